// Package badgerdir opens a badger directory, for fieldsync's two stores
// alike: the server's (server/store) and the device replica of the Go SDK
// (clients/go). Before badger.Open it repairs the states a killed badger
// process leaves that badger v4.9.6 cannot open by itself, so that the
// first start after a crash succeeds (upstream: dgraph-io/badger issue
// 2207, fix proposed in PR 2331 and not released).
//
// # Crash windows repaired
//
// Badger creates a memtable's write-ahead log (NNNNN.mem) and a value log
// (NNNNNN.vlog) in two steps: open(O_CREATE), then ftruncate to its full
// size and a 20-byte header written through mmap. A process killed
// between the two leaves a 0-byte file. On the next Open badger takes the
// 0-byte file for one it has just created (ristretto's z.NewFile), writes
// the header and returns z.NewFile as an error ("while opening memtables
// err: while opening fid: N err: Create a new file", or "During
// db.vlog.open: Open existing file: ... Create a new file"); the Open
// after that succeeds. Open removes such files first:
//
//   - a 0-byte .mem file in Dir: it holds no WAL entry, and badger drops
//     an empty memtable on open anyway;
//   - a 0-byte .vlog file in ValueDir: it holds no entry (not even its
//     header), so no value pointer can point into it; badger deletes an
//     empty value log itself unless it is the newest, and the newest is
//     the one a kill leaves 0 bytes long (badger creates the next one).
//
// # Invariants
//
//   - Only a regular file named <number>.mem in Dir or <number>.vlog in
//     ValueDir whose size is 0 is ever removed: such a file holds no data.
//     MANIFEST, KEYREGISTRY, DISCARD, .sst tables and every non-empty file
//     are never touched (badger recovers those itself: the MANIFEST and
//     KEYREGISTRY are replaced by rename, a torn MANIFEST tail is
//     truncated, a table the MANIFEST does not list is deleted, a 0-byte
//     DISCARD is re-initialised).
//   - The repair runs only while this process holds badger's own lock on
//     the directory (flock, where badger uses it), so it never touches
//     the files of a badger that is running; when another process holds
//     the lock it does nothing and badger.Open reports the lock.
//   - Every file removed is logged (a warning with its name).
//
// The package does I/O, so it cannot live in the pure layers (model/,
// sync/). It sits beside server/store, its other user, because the
// project's top level holds only server/, sync/, model/, clients/ and api/;
// it imports nothing of the server but badger, so the SDK that imports it
// pulls in no HTTP or server code.
package badgerdir
