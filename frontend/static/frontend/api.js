// The pages talk to the same REST API as integrations, with the session cookie and the CSRF token.
// `api(path, options)` resolves to the parsed JSON body (or null for 204) and rejects with an ApiError
// carrying the envelope's stable `code`, its `message` and per-field messages.

export class ApiError extends Error {
  constructor(status, code, message, fields) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields || {};
  }
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export async function api(path, { method = "GET", json, body, headers = {}, signal } = {}) {
  const url = path.startsWith("/") ? path : `/api/v1/${path}`;
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin", signal };
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRFToken"] = csrfToken();
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body; // FormData: the browser sets the multipart boundary
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network_error", "The server could not be reached. Check your connection and try again.");
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(
      response.status,
      error.code || `http_${response.status}`,
      error.message || `The server answered ${response.status}.`,
      error.fields,
    );
  }
  return data;
}

// Show a short message in the page's live region (role="status"), so screen readers hear it too.
export function announce(message, kind = "info") {
  const region = document.getElementById("flash");
  if (!region) return;
  region.textContent = message;
  region.dataset.kind = kind;
  region.hidden = false;
}
