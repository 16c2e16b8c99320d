// Package model holds fieldsync's domain as declarative data: the record
// kinds and their fields (merge class, value type, allowed values, writers),
// the roles, the trafficking indicator catalogue, and the one error type
// whose codes every layer returns.
//
// Invariants: model imports nothing of fieldsync's own and no I/O packages;
// the schema is data, not code, so it can be served at GET /v1/schema and
// grown as the field changes. Every code in this package is stable: clients
// store records and indicator codes for years.
package model
