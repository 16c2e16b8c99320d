package figures

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fieldsync/fieldsync/api"
)

// table1 builds a one-dimensional table of counts (and counts outside one
// nested jurisdiction when comp is not nil).
func table1(counts, comp []int) *statTable {
	nested := 0
	if comp != nil {
		nested = 1
	}
	t := newStatTable("t", "t", []string{"d"}, false, nested)
	for i, n := range counts {
		c := t.cell(fmt.Sprint("v", i))
		c.count = n
		t.total += n
		if comp != nil {
			c.comp[0] = comp[i]
			t.comp[0] += comp[i]
		}
	}
	return t
}

// table2 builds a two-dimensional table of counts[row][col].
func table2(counts [][]int) *statTable {
	t := newStatTable("t", "t", []string{"r", "c"}, false, 0)
	for i := range counts {
		t.rows = append(t.rows, fmt.Sprint("r", i))
	}
	for j := range counts[0] {
		t.cols = append(t.cols, fmt.Sprint("c", j))
	}
	for i, row := range counts {
		for j, n := range row {
			t.cell(t.rows[i], t.cols[j]).count = n
			t.total += n
		}
	}
	return t
}

func shown(st api.StatsTable) []string {
	out := make([]string, len(st.Cells))
	for i, c := range st.Cells {
		if c.Suppressed {
			out[i] = "-"
		} else {
			out[i] = fmt.Sprint(*c.Count)
		}
	}
	return out
}

func TestSuppressionExamples(t *testing.T) {
	tests := []struct {
		name      string
		counts    []int
		want      []string
		wantTotal string
	}{
		{"nothing small", []int{5, 0, 12}, []string{"5", "0", "12"}, "17"},
		{"one small: the next smallest too", []int{3, 20, 9, 0}, []string{"-", "20", "-", "0"}, "~30"},
		{"two small adding up to at least 5", []int{3, 2, 40}, []string{"-", "-", "40"}, "~45"},
		{"two small adding up to less than 5: a third", []int{1, 1, 40, 7}, []string{"-", "-", "40", "-"}, "~50"},
		{"all small: total small", []int{1, 2, 0}, []string{"-", "-", "0"}, "-"},
		{"one small, the rest zero", []int{0, 0, 7}, []string{"0", "0", "7"}, "7"},
	}
	for _, tt := range tests {
		st := table1(tt.counts, nil).served(5)
		if got := shown(st); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: cells %v, want %v", tt.name, got, tt.want)
		}
		total := "-"
		if st.Total.Count != nil {
			total = fmt.Sprint(*st.Total.Count)
			if st.Total.Rounded {
				total = "~" + total
			}
		}
		if total != tt.wantTotal {
			t.Errorf("%s: total %s, want %s", tt.name, total, tt.wantTotal)
		}
	}
}

func TestSuppressionNested(t *testing.T) {
	// The caller's counts: 10, 8, 30; of them outside a nested
	// jurisdiction: 2, 0, 29. The first cell is suppressed (the caller's
	// minus the nested figures would be 2), and a partner with it.
	st := table1([]int{10, 8, 30}, []int{2, 0, 29}).served(5)
	if got := fmt.Sprint(shown(st)); got != "[- - 30]" {
		t.Errorf("cells %s, want [- - 30]", got)
	}
	if !st.Total.Rounded {
		t.Errorf("total %+v not rounded", st.Total)
	}
	st = table1([]int{10, 20}, []int{0, 0}).served(5)
	if st.Total.Rounded || *st.Total.Count != 30 {
		t.Errorf("total %+v, want exact 30", st.Total)
	}
	// A small count outside the nested jurisdiction hides the total.
	tb := table1([]int{10, 20}, []int{0, 0})
	tb.comp[0] = 3
	st = tb.served(5)
	if !st.Total.Suppressed {
		t.Errorf("total %+v with 3 outside: want suppressed", st.Total)
	}
}

func TestSuppressionTwoDimensions(t *testing.T) {
	st := table2([][]int{
		{18, 50, 0},
		{1, 6, 0},
		{4, 13, 2},
	}).served(5)
	got := shown(st)
	// No row or column has exactly one suppressed cell unless its other
	// cells are zero, and no shown cell is small.
	checkTable2(t, "example", st, 3, 3, 5)
	if got[0] != "18" || got[1] != "50" {
		t.Errorf("the large first row was suppressed: %v", got)
	}
}

// checkTable2 checks the rules on a served rows x cols table.
func checkTable2(t *testing.T, name string, st api.StatsTable, rows, cols, threshold int) {
	t.Helper()
	line := func(idx []int, allowZeros bool) {
		n, others := 0, 0
		for _, i := range idx {
			c := st.Cells[i]
			if c.Suppressed {
				n++
			} else if *c.Count > 0 {
				others++
			}
		}
		if n == 1 && others > 0 {
			t.Errorf("%s: line %v has exactly one suppressed cell: %v", name, idx, shown(st))
		}
	}
	for r := range rows {
		var idx []int
		for c := range cols {
			idx = append(idx, r*cols+c)
		}
		line(idx, false)
	}
	for c := range cols {
		var idx []int
		for r := range rows {
			idx = append(idx, r*cols+c)
		}
		line(idx, false)
	}
	for _, c := range st.Cells {
		if !c.Suppressed && small(*c.Count, threshold) {
			t.Errorf("%s: a cell of %d is shown", name, *c.Count)
		}
	}
}

// TestSuppressionProperties checks the rules on random tables: no shown
// cell (or total) under the threshold; no table with exactly one
// suppressed cell, nor with suppressed cells adding up to less than the
// threshold; a total exact only without suppression, otherwise rounded to
// the nearest 5 within 2 of the truth.
func TestSuppressionProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 3000 {
		threshold := 2 + rng.IntN(9)
		rows, cols := 1+rng.IntN(5), 1+rng.IntN(5)
		counts := make([][]int, rows)
		flat := []int{}
		for i := range counts {
			counts[i] = make([]int, cols)
			for j := range counts[i] {
				switch rng.IntN(4) {
				case 0:
					counts[i][j] = 0
				case 1:
					counts[i][j] = rng.IntN(threshold)
				default:
					counts[i][j] = rng.IntN(60)
				}
				flat = append(flat, counts[i][j])
			}
		}
		var comp []int
		withComp := rng.IntN(3) == 0
		compTotal := 0
		if withComp {
			for _, n := range flat {
				comp = append(comp, rng.IntN(min(n, 2*threshold)+1))
				compTotal += comp[len(comp)-1]
			}
		}
		name := fmt.Sprintf("iteration %d (threshold %d)", iter, threshold)
		var st api.StatsTable
		if rows > 1 && cols > 1 && !withComp {
			st = table2(counts).served(threshold)
			checkTable2(t, name, st, rows, cols, threshold)
		} else {
			st = table1(flat, comp).served(threshold)
		}
		total, n, sum := 0, 0, 0
		for i, c := range st.Cells {
			total += flat[i]
			if c.Suppressed {
				n++
				sum += flat[i]
				continue
			}
			if *c.Count != flat[i] {
				t.Fatalf("%s: cell %d shows %d, is %d", name, i, *c.Count, flat[i])
			}
			if small(*c.Count, threshold) {
				t.Fatalf("%s: a cell of %d is shown", name, *c.Count)
			}
			if withComp && small(comp[i], threshold) {
				t.Fatalf("%s: cell %d shown while %d lie outside", name, i, comp[i])
			}
		}
		unpaired := n == 1 || n > 1 && sum < threshold
		if !st.Total.Suppressed && unpaired {
			t.Fatalf("%s: %d suppressed cells adding up to %d: %v of %v", name, n, sum, shown(st), flat)
		}
		switch {
		case st.Total.Suppressed:
			if !small(total, threshold) && !unpaired && !(withComp && small(compTotal, threshold)) {
				t.Fatalf("%s: total %d suppressed", name, total)
			}
		case st.Total.Rounded:
			if *st.Total.Count%5 != 0 || abs(*st.Total.Count-total) > 2 {
				t.Fatalf("%s: total %d rounded to %d", name, total, *st.Total.Count)
			}
		default:
			if withComp && small(compTotal, threshold) {
				t.Fatalf("%s: total %d shown with %d outside the nested jurisdiction", name, total, compTotal)
			}
			if *st.Total.Count != total || n > 0 {
				t.Fatalf("%s: exact total %d (true %d) with %d suppressed", name, *st.Total.Count, total, n)
			}
			if small(total, threshold) {
				t.Fatalf("%s: small total %d shown", name, total)
			}
		}
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
