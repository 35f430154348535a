/**
 * Transport codes the Gong client raises itself, before any call was made, beside undici's and
 * the socket's own (UND_ERR_HEADERS_TIMEOUT, ECONNRESET, ...). The outcome policy classifies them.
 */

/** The bearer token file cannot be read (or is empty) and no earlier token is at hand. */
export const tokenUnavailableCode = 'GONG_TOKEN_UNAVAILABLE';
