/**
 * Apache's status lines (`status_lines` in modules/http/http_protocol.c, 2.4): the reason
 * phrases Apache sends, which differ from Node's in places (416, 413, 414).
 */
const STATUS_LINES: Readonly<Record<number, string>> = {
  100: "Continue", 101: "Switching Protocols", 102: "Processing",
  200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
  204: "No Content", 205: "Reset Content", 206: "Partial Content", 207: "Multi-Status",
  208: "Already Reported", 226: "IM Used",
  300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
  304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
  400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
  404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
  407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict", 410: "Gone",
  411: "Length Required", 412: "Precondition Failed", 413: "Request Entity Too Large",
  414: "Request-URI Too Long", 415: "Unsupported Media Type",
  416: "Requested Range Not Satisfiable", 417: "Expectation Failed", 421: "Misdirected Request",
  422: "Unprocessable Entity", 423: "Locked", 424: "Failed Dependency", 426: "Upgrade Required",
  428: "Precondition Required", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
  503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
  506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
  510: "Not Extended", 511: "Network Authentication Required",
};

/** The reason phrase Apache uses for `status`, or undefined for a code it has none for. */
export function apacheReason(status: number): string | undefined {
  return STATUS_LINES[status];
}

/**
 * Apache's reason phrase; a code missing from its table gets the phrase of its class's first
 * entry, as `ap_index_of_response` picks it (418 -> "Bad Request").
 */
export function reasonPhrase(status: number): string {
  const known = STATUS_LINES[status];
  if (known !== undefined) return known;
  const base = Math.floor(status / 100) * 100;
  return STATUS_LINES[base] ?? "Internal Server Error";
}

export const STATUS_REASONS = STATUS_LINES;
