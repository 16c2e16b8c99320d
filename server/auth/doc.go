// Package auth authenticates fieldsync's users and devices (DESIGN §5):
// argon2id password hashes, Ed25519 signing keys kept on disk, short-lived
// EdDSA access tokens, and rotating refresh tokens grouped in families.
//
// Invariants:
//   - Every error returned to a caller is an *model.Error with a DESIGN §5
//     code, or wraps one; anything else (a store or disk failure) is an
//     internal error whose cause is never shown to clients.
//   - A wrong username and a wrong password are indistinguishable: same
//     code, same message, and the same argon2id cost (a dummy hash is
//     checked for unknown users).
//   - Refresh tokens are stored only as their SHA-256; the token itself
//     exists only in the response that hands it out (and, for at most the
//     refresh grace, in memory so a retried refresh gets the same pair).
//   - An access token is accepted only if it is an EdDSA JWT signed by one
//     of our keys, typed at+jwt, for our issuer and audience, unexpired,
//     with token_use "access" and canonical user, device and family ids,
//     and only while its family is not revoked, its device exists and is
//     not revoked and belongs to its user, its user is not disabled, and a
//     visitor's grant has not ended; the user is read on every request.
//     Anything else is refused; nothing panics on hostile input.
//   - A refresh token is exchanged at most once (Store.UseRefreshToken is
//     atomic). Presenting a used one outside the grace revokes its whole
//     family, and with it every access token issued from that family.
//   - Time comes only from the injected Now.
package auth
