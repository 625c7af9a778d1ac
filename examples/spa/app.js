// The access token is kept in this variable only: a reload forgets it, and the refresh cookie
// (HttpOnly, sent only to /api/token/) gets a new one. The CSRF cookie is the one the page
// can read; it goes back in X-CSRF-Token (double submit), which no other site can do.
const API = new URLSearchParams(location.search).get("api") ?? "http://127.0.0.1:8000";
const COOKIE = "tl_refresh";
let access = null;

const $ = (id) => document.getElementById(id);
const status = (text) => { $("status").textContent = text; };

function csrfToken() {
  const entry = document.cookie.split("; ").find((c) => c.startsWith(`${COOKIE}_csrf=`));
  return entry ? decodeURIComponent(entry.split("=")[1]) : "";
}

async function post(path, body, withCsrf) {
  const headers = { "Content-Type": "application/json" };
  if (withCsrf) headers["X-CSRF-Token"] = csrfToken();
  // credentials: "include" sends and accepts the cookies across origins (CORS credentials).
  return fetch(`${API}${path}`, {
    method: "POST", credentials: "include", headers, body: JSON.stringify(body),
  });
}

async function login(username, password) {
  const response = await post("/api/token/", { username, password }, false);
  if (!response.ok) { status(`login refused (${response.status})`); return; }
  access = (await response.json()).access;
  status("logged in");
  await me();
}

async function refresh() {
  // No refresh in the body: the cookie's token is used, once X-CSRF-Token matches.
  const response = await post("/api/token/refresh/", {}, true);
  if (!response.ok) { access = null; status(`logged out (refresh: ${response.status})`); return false; }
  access = (await response.json()).access;
  status("logged in (refreshed through the cookie)");
  return true;
}

async function me() {
  if (!access && !(await refresh())) { $("me").textContent = "(nobody)"; return; }
  let response = await fetch(`${API}/api/me/`, { headers: { Authorization: `Bearer ${access}` } });
  if (response.status === 401 && (await refresh())) {
    response = await fetch(`${API}/api/me/`, { headers: { Authorization: `Bearer ${access}` } });
  }
  $("me").textContent = response.ok ? JSON.stringify(await response.json()) : `(${response.status})`;
}

async function logout() {
  const response = await post("/api/token/blacklist/", {}, true);
  access = null;
  $("me").textContent = "(nobody)";
  status(response.ok ? "logged out" : `logout failed (${response.status})`);
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  login(form.get("username"), form.get("password"));
});
$("me-button").addEventListener("click", me);
$("logout-button").addEventListener("click", logout);
// A fresh page has no access token: the cookie (if any) brings one.
me().then(() => document.body.dataset.ready = "true");
