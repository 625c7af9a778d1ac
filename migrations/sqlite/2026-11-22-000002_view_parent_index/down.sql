DROP INDEX token_view_parent;
