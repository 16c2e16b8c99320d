package server

// RouteTable returns "METHOD path" of every registered route, for the
// external tests that must cover them all.
func RouteTable() [][2]string {
	var out [][2]string
	for _, r := range (&Server{metrics: newMetrics()}).routes() {
		out = append(out, [2]string{r.method, r.path})
	}
	return out
}
