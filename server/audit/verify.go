package audit

import (
	"context"
	"fmt"
)

// Problem is one break in the chain.
type Problem struct {
	Seq    uint64
	Reason string
}

// Report is the outcome of Verify.
type Report struct {
	Entries  uint64
	HeadSeq  uint64
	HeadHash string
	Problems []Problem
}

// OK reports whether the chain verified.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Verify walks the whole chain: sequence numbers must run 1, 2, 3...,
// each prev must equal the hash of the entry before, and each hash must
// match the entry's content. It stops listing after 100 problems.
func Verify(ctx context.Context, s Store) (Report, error) {
	var r Report
	prevHash, want := ZeroHash, uint64(1)
	for after := uint64(0); ; {
		page, err := s.ScanAudit(ctx, after, 1000)
		if err != nil {
			return r, fmt.Errorf("scan audit log: %w", err)
		}
		if len(page) == 0 {
			return r, nil
		}
		for _, e := range page {
			r.check(e, want, prevHash)
			r.Entries++
			r.HeadSeq, r.HeadHash = e.Seq, e.Hash
			prevHash, want = e.Hash, e.Seq+1
			if len(r.Problems) >= 100 {
				return r, nil
			}
		}
		after = page[len(page)-1].Seq
	}
}

func (r *Report) check(e Entry, wantSeq uint64, prevHash string) {
	if e.Seq != wantSeq {
		r.Problems = append(r.Problems, Problem{e.Seq, fmt.Sprintf("expected entry %d here: entries are missing or out of order", wantSeq)})
	}
	if e.Prev != prevHash {
		r.Problems = append(r.Problems, Problem{e.Seq, "prev does not match the hash of the entry before: an entry was removed, inserted or reordered"})
	}
	if e.computeHash() != e.Hash {
		r.Problems = append(r.Problems, Problem{e.Seq, "hash does not match the content: the entry was altered"})
	}
}
