// Package review holds the supervisors' casework rules (GET
// /v1/review/queue, GET /v1/review/duplicates, GET and POST
// /v1/review/links): why a record waits in the review queue, which two
// records are possible duplicates, and what a link changes. It is pure: no
// I/O, no clock; the server scans the records the caller may read, feeds
// them in, audits and renders what comes out.
//
// # The review queue
//
// The decision on a record is the supervisor-only register review_status
// (pending | reviewed | needs_info), written as an ordinary pushed op. A
// record that is not deleted is in the queue while it has a reason:
//
//   - conflict: a register holds more than one sibling. It stays in the
//     queue while the conflict lasts, whatever the decisions; writing a
//     value whose base covers every sibling resolves it.
//   - new: no review_status decision was ever written.
//
// and the following triggers count only when newer (by hlc) than the
// latest review_status decision (its greatest sibling):
//
//   - formal_status: the shown status is potential or presumed (a formal
//     identification is awaited);
//   - child_presumed: child_presumed is true;
//   - cross_border_referral: a referrals entry with "cross_border":true,
//     or with a "destination_country" other than the record's citizenship;
//   - visitor_note: a notes entry written by a visitor (action-week
//     delegation).
//
// A record leaves the queue when a supervisor writes review_status after
// its triggers (and no conflict remains). The queue is ordered by its
// items' oldest reason, then id, and paged by that key.
//
// # Possible duplicates
//
// Two identifications that are not deleted are flagged as possible
// duplicates when they share the region (compared without case and
// surrounding spaces), the sex, the age group and the citizenship, none of
// them missing or "unknown", and their encounter dates are at most
// WindowDays apart. The flags are computed on each request, never stored.
//
// # Links
//
// A supervisor links two records (POST /v1/review/links): both records are
// kept and the link is supervisor data the server stores beside them,
// written in one transaction with its records_linked audit entries.
// Nothing is ever merged. A link is never record state: record state
// reaches every reader of a record (pull, GET), and a link names a second
// record some of them may not read, which would confirm an id they cannot
// otherwise guess. So a link is shown only by the review routes, and only
// to a caller who may read both records.
//
// Invariant (no oracle): every answer here is a function of the records
// the server feeds in, which are only those the caller may read, and of
// the links between two of them; a caller never learns of a record
// outside its jurisdiction.
package review
