/** Static file serving, Apache-style: the default handler, mod_mime, mod_autoindex, error pages. */
export { serveFile, headerValue } from "./serve-file";
export type { ServeFileOptions, StaticRequest } from "./serve-file";
export { serveDirectoryListing, renderDirectoryListing } from "./autoindex";
export type { DirectoryListingOptions } from "./autoindex";
export { errorPage, errorPageHead, sendErrorPage, withErrorStatus, withServerErrors, withClosingHeader, escapeHtml, ERROR_PAGE_CONTENT_TYPE, STATIC_ALLOW } from "./error-page";
export type { ErrorPage, ErrorPageContext } from "./error-page";
export { reasonPhrase, apacheReason, STATUS_REASONS } from "./status";
export { MimeTable, defaultMimeTable, parseMimeTypes, DEFAULT_TYPES_CONFIG } from "./mime";
export type { MimeTableOptions } from "./mime";
export { makeETag, mtimeMicros, lastModifiedSeconds, httpDate, evaluateConditions, ifRangeAllows, DEFAULT_FILE_ETAG } from "./conditional";
export type { FileETagParts, AnyStats } from "./conditional";
export { evaluateRange } from "./range";
export type { ByteRange, RangeVerdict, RangeLimits } from "./range";
