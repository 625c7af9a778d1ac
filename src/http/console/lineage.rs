//! A session's rotation lineage as a graph to draw in SVG: each token a node (issued, then
//! rotated, blacklisted or still live, with its times), each `parent_jti` an edge, and each
//! `reuse_detected` a red node hanging off the token that was presented again. A token with
//! two successors, or a reuse, is a fork: its edges are drawn red, so a stolen refresh token
//! stands out.
//!
//! Layout: columns are generations; a node sits on the row of its first child (successor
//! refresh tokens first), so the rotation chain runs along one line and the access tokens
//! each refresh token minted hang below it.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;

use super::short;
use crate::ledger::{EventKind, LedgerEvent, Reason, TokenRow, TokenState, TokenType};

const NODE_WIDTH: i64 = 210;
const NODE_HEIGHT: i64 = 74;
const COLUMN: i64 = 250;
const ROW: i64 = 86;
const MARGIN: i64 = 10;
/// Beyond this many tokens a session is listed, not drawn.
pub const MAX_NODES: usize = 400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    /// CSS classes: the kind and state (`refresh rotated`, `access blacklisted`, `reuse`).
    pub class: String,
    pub lines: [String; 4],
    /// The full story, for the node's `<title>` (screen readers, hover).
    pub title: String,
    /// The jti, to link the node to its row in the table.
    pub jti: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub path: String,
    pub fork: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Graph {
    pub width: i64,
    pub height: i64,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub forks: usize,
    pub reuses: usize,
    pub rotations: usize,
}

impl Graph {
    /// One sentence for the drawing's `<desc>`.
    pub fn summary(&self) -> String {
        let tokens = self.nodes.len() - self.reuses;
        let count =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut text = format!(
            "{}, {}, {}",
            count(tokens, "token", "tokens"),
            count(self.rotations, "rotation", "rotations"),
            count(self.reuses, "reuse detected", "reuses detected"),
        );
        if self.forks > 0 {
            text.push_str(&format!(
                ", {}: a refresh token was used twice",
                count(self.forks, "fork", "forks")
            ));
        }
        text
    }
}

enum Item<'a> {
    Token(&'a TokenRow),
    Reuse(&'a LedgerEvent),
}

fn when(at: &NaiveDateTime) -> String {
    at.format("%m-%d %H:%M:%S").to_string()
}

fn token_node(row: &TokenRow, now: NaiveDateTime) -> (String, [String; 4], String) {
    let by_rotation = matches!(row.reason, None | Some(Reason::Rotation));
    let (state, line) = match (row.state, row.rotated_at, row.blacklisted_at) {
        (_, Some(at), _) if by_rotation => ("rotated", format!("rotated {}", when(&at))),
        (TokenState::Blacklisted, _, Some(at)) => ("blacklisted", format!("revoked {}", when(&at))),
        (_, Some(at), _) => ("rotated", format!("rotated {}", when(&at))),
        (TokenState::Blacklisted, _, None) => ("blacklisted", "revoked".to_owned()),
        _ if row.expires_at <= now => ("ended", format!("ended {}", when(&row.expires_at))),
        _ => ("live", format!("live until {}", when(&row.expires_at))),
    };
    let class = format!("{} {state}", row.token_type.as_str());
    let reason = match row.reason {
        Some(reason) if state == "blacklisted" => format!("reason {}", reason.as_str()),
        _ => String::new(),
    };
    let title = format!(
        "{} token {}: issued {}, {line} {reason}",
        row.token_type.as_str(),
        row.jti,
        when(&row.issued_at)
    );
    let lines = [
        format!("{} {}", row.token_type.as_str(), short(&row.jti)),
        format!("issued {}", when(&row.issued_at)),
        line,
        reason,
    ];
    (class, lines, title)
}

/// The graph of one session's tokens and events (as `LedgerReader::session` gives them).
pub fn graph(tokens: &[TokenRow], events: &[LedgerEvent], now: NaiveDateTime) -> Graph {
    let known: HashMap<&str, &TokenRow> =
        tokens.iter().map(|row| (row.jti.as_str(), row)).collect();
    // Children of each token: successor refresh (or sliding) tokens first, then reuses, then
    // the access tokens it minted, each group in time order.
    let mut children: BTreeMap<&str, Vec<(u8, NaiveDateTime, Item)>> = BTreeMap::new();
    let mut roots = Vec::new();
    for row in tokens {
        match row
            .parent_jti
            .as_deref()
            .filter(|parent| known.contains_key(parent))
        {
            Some(parent) => {
                let rank = if row.token_type == TokenType::Access {
                    2
                } else {
                    0
                };
                children
                    .entry(parent)
                    .or_default()
                    .push((rank, row.issued_at, Item::Token(row)));
            }
            None => roots.push(row),
        }
    }
    let mut reuses = 0;
    for event in events
        .iter()
        .filter(|e| e.event == EventKind::ReuseDetected)
    {
        if known.contains_key(event.jti.as_str()) {
            reuses += 1;
            children
                .entry(event.jti.as_str())
                .or_default()
                .push((1, event.at, Item::Reuse(event)));
        }
    }
    for list in children.values_mut() {
        list.sort_by_key(|(rank, at, _)| (*rank, *at));
    }

    let mut graph = Graph {
        reuses,
        ..Graph::default()
    };
    let mut next_row = 0;
    for root in roots {
        place(
            &Item::Token(root),
            0,
            &children,
            &mut next_row,
            &mut graph,
            now,
        );
    }
    graph.rotations = tokens.iter().filter(|row| row.rotated_at.is_some()).count();
    let columns = graph.nodes.iter().map(|node| node.x).max().unwrap_or(0);
    graph.width = columns + NODE_WIDTH + 2 * MARGIN;
    graph.height = next_row.max(1) * ROW + 2 * MARGIN - (ROW - NODE_HEIGHT);
    graph
}

/// Places `item` and its subtree; returns the node's y. A token's subtree is drawn once.
fn place(
    item: &Item,
    depth: i64,
    children: &BTreeMap<&str, Vec<(u8, NaiveDateTime, Item)>>,
    next_row: &mut i64,
    graph: &mut Graph,
    now: NaiveDateTime,
) -> i64 {
    let x = MARGIN + depth * COLUMN;
    let (y, class, lines, title, jti) = match item {
        Item::Reuse(event) => {
            let y = MARGIN + *next_row * ROW;
            *next_row += 1;
            let lines = [
                "reuse detected".to_owned(),
                format!("at {}", when(&event.at)),
                format!("{} presented again:", short(&event.jti)),
                "the session is revoked".to_owned(),
            ];
            let title = format!(
                "reuse detected at {}: the rotated token {} was presented again; the session was revoked",
                when(&event.at),
                event.jti
            );
            (y, "reuse".to_owned(), lines, title, event.jti.clone())
        }
        Item::Token(row) => {
            let kids = children.get(row.jti.as_str());
            let successors = kids.map_or(0, |kids| {
                kids.iter().filter(|(rank, _, _)| *rank < 2).count()
            });
            let fork = successors > 1;
            let mut first_y = None;
            let mut child_ys = Vec::new();
            for (_, _, child) in kids.into_iter().flatten() {
                let child_y = place(child, depth + 1, children, next_row, graph, now);
                first_y.get_or_insert(child_y);
                let is_successor =
                    !matches!(child, Item::Token(t) if t.token_type == TokenType::Access);
                child_ys.push((child_y, fork && is_successor));
            }
            let y = first_y.unwrap_or_else(|| {
                let y = MARGIN + *next_row * ROW;
                *next_row += 1;
                y
            });
            if fork {
                graph.forks += 1;
            }
            let (x1, y1) = (x + NODE_WIDTH, y + NODE_HEIGHT / 2);
            let x2 = x + COLUMN;
            let middle = x1 + (x2 - x1) / 2;
            for (child_y, fork_edge) in child_ys {
                let y2 = child_y + NODE_HEIGHT / 2;
                graph.edges.push(Edge {
                    path: format!("M{x1} {y1} H{middle} V{y2} H{x2}"),
                    fork: fork_edge,
                });
            }
            let (mut class, lines, title) = token_node(row, now);
            if fork {
                class.push_str(" forked");
            }
            (y, class, lines, title, row.jti.clone())
        }
    };
    graph.nodes.push(Node {
        x,
        y,
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
        class,
        lines,
        title,
        jti,
    });
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{NewEvent, TokenRef, replay::replay};
    use crate::time::at;

    fn token(jti: &str, token_type: TokenType) -> TokenRef {
        TokenRef {
            jti: jti.into(),
            token_type,
            user_id: 1,
            sid: "s".into(),
            expires_at: at(86_400),
        }
    }

    #[test]
    fn a_stolen_refresh_token_shows_as_a_fork_with_a_reuse() {
        // r1 rotated into r2 (by the thief), then the owner presents r1 again: reuse.
        let events: Vec<LedgerEvent> = [
            NewEvent::issued(token("r1", TokenType::Refresh), None, at(0)),
            NewEvent::issued(token("a1", TokenType::Access), Some("r1".into()), at(0)),
            NewEvent::rotated(token("r1", TokenType::Refresh), at(10)),
            NewEvent::issued(token("r2", TokenType::Refresh), Some("r1".into()), at(10)),
            NewEvent::issued(token("a2", TokenType::Access), Some("r1".into()), at(10)),
            NewEvent::reuse_detected(token("r1", TokenType::Refresh), at(20)),
            NewEvent::blacklisted(
                token("r2", TokenType::Refresh),
                Reason::ReuseDetected,
                at(20),
            ),
        ]
        .into_iter()
        .enumerate()
        .map(|(seq, event)| event.with_seq(seq as i64 + 1))
        .collect();
        let mut tokens: Vec<TokenRow> = replay(events.clone()).into_values().collect();
        tokens.sort_by_key(|row| row.issued_at);
        let graph = graph(&tokens, &events, at(30));
        assert_eq!(graph.nodes.len(), 5, "four tokens and one reuse");
        assert_eq!((graph.reuses, graph.forks, graph.rotations), (1, 1, 1));
        assert_eq!(graph.edges.iter().filter(|edge| edge.fork).count(), 2);
        let node = |jti: &str, class: &str| {
            graph
                .nodes
                .iter()
                .find(|node| node.jti == jti && node.class.contains(class))
                .unwrap()
                .clone()
        };
        let (r1, r2, reuse) = (
            node("r1", "refresh"),
            node("r2", "refresh"),
            node("r1", "reuse"),
        );
        assert_eq!(r1.y, r2.y, "the rotation chain runs along one row");
        assert!(r2.x > r1.x && reuse.x == r2.x && reuse.y > r2.y);
        assert!(r1.class.contains("forked") && r2.class.contains("blacklisted"));
        assert_eq!(
            graph.summary(),
            "4 tokens, 1 rotation, 1 reuse detected, 1 fork: a refresh token was used twice"
        );
    }
}
