// The service's REST API: every call carries the bearer token kept in this tab's sessionStorage.

const KEY = "trimtab.token";

export const token = {
  get: () => sessionStorage.getItem(KEY) || "",
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

/** A token handed over in the URL fragment (#token=...) is moved to sessionStorage and removed from the URL. */
export function takeTokenFromFragment() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const t = params.get("token");
  if (t) {
    token.set(t);
    history.replaceState(null, "", location.pathname + location.search);
  }
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** One request to this service (a relative URL: the page's own origin); errors carry the API's one-line message. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${token.get()}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, cache: "no-store", credentials: "omit",
      body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, "the service cannot be reached");
  }
  let doc = null;
  try { doc = await response.json(); } catch (err) { doc = null; }
  if (!response.ok) throw new ApiError(response.status, (doc && doc.error) || `HTTP ${response.status}`);
  return doc;
}

export const portfolioPath = (name, tail = "") => `api/portfolios/${encodeURIComponent(name)}${tail}`;
