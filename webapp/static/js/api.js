// The one way the pages talk to the server: JSON over /api/v1 with the session cookie and CSRF token.
let token = null;

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || (status ? `Request failed (${status}).` : "You are offline."));
    this.status = status;
    this.body = body || {};
  }

  get offline() {
    return this.status === 0 || this.body?.offline === true;
  }
}

export function setCsrfToken(value) {
  token = value;
}

export const csrfToken = () => token;

/** Tells the page whether data came fresh from the server or from this device's last copy. */
function reportFreshness(response) {
  const fromCache = response.headers.get("X-Plate-From-Cache") === "1";
  const fetchedAt = Number(response.headers.get("X-Plate-Fetched-At")) || null;
  window.dispatchEvent(new CustomEvent("plate:freshness", { detail: { fromCache, fetchedAt } }));
}

// Every API read this page made, so a service worker that arrives later can be handed them to keep.
const readPaths = new Set();

/** On first install the worker did not see this page's reads: fetch them again through it, touching nothing on screen. */
export function readAgainThroughWorker() {
  return Promise.all([...readPaths].map((path) =>
    fetch(`/api/v1${path}`, { credentials: "same-origin", headers: { Accept: "application/json" } }).catch(() => null)));
}

export async function request(method, path, { body, headers = {} } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET" && token) init.headers["X-CSRF-Token"] = token;
  if (method === "GET") readPaths.add(path);
  let response;
  try {
    response = await fetch(`/api/v1${path}`, init);
  } catch (error) {
    throw new ApiError(0, { message: "You are offline.", offline: true });
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.headers.get("X-Plate-Offline")) throw new ApiError(0, { message: "You are offline.", offline: true });
  if (!response.ok) throw new ApiError(response.status, data);
  if (method === "GET") reportFreshness(response);
  return data;
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, { body });
export const patch = (path, body, headers) => request("PATCH", path, { body, headers });
export const del = (path) => request("DELETE", path);
