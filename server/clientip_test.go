package server

import (
	"net/netip"
	"testing"
)

func TestClientAddrTakesRightmostUntrustedHop(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ff::/48")}
	tests := []struct {
		name    string
		peer    string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no trusted proxies: the header is ignored", "192.0.2.1", []string{"203.0.113.9"}, nil, "192.0.2.1"},
		{"untrusted peer: the header is ignored", "192.0.2.1", []string{"203.0.113.9"}, trusted, "192.0.2.1"},
		{"trusted peer without a header", "10.0.0.2", nil, trusted, "10.0.0.2"},
		{"trusted peer, one hop", "10.0.0.2", []string{"203.0.113.9"}, trusted, "203.0.113.9"},
		{"a spoofed leftmost value is not believed", "10.0.0.2", []string{"198.51.100.1, 203.0.113.9"}, trusted, "203.0.113.9"},
		{"trusted hops are skipped", "10.0.0.2", []string{"198.51.100.1, 203.0.113.9, 10.3.4.5,10.0.0.7"}, trusted, "203.0.113.9"},
		{"several header lines read as one list", "10.0.0.2", []string{"198.51.100.1", "203.0.113.9, 10.3.4.5"}, trusted, "203.0.113.9"},
		{"every hop trusted: the leftmost", "10.0.0.2", []string{"10.9.9.9, 10.3.4.5"}, trusted, "10.9.9.9"},
		{"garbage stops at the last trusted hop", "10.0.0.2", []string{"203.0.113.9, unknown, 10.3.4.5"}, trusted, "10.3.4.5"},
		{"a port is dropped", "10.0.0.2", []string{"203.0.113.9:4711"}, trusted, "203.0.113.9"},
		{"IPv6 with a port", "10.0.0.2", []string{"[2001:db8:1::5]:4711"}, trusted, "2001:db8:1::5"},
		{"IPv6 trusted hop", "2001:db8:ff::1", []string{"2001:db8:1::5, 2001:db8:ff:1::2"}, trusted, "2001:db8:1::5"},
		{"IPv4-mapped hop", "10.0.0.2", []string{"::ffff:203.0.113.9"}, trusted, "203.0.113.9"},
		{"empty header", "10.0.0.2", []string{""}, trusted, "10.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var xff [][]byte
			for _, h := range tt.xff {
				xff = append(xff, []byte(h))
			}
			got := clientAddr(netip.MustParseAddr(tt.peer), xff, tt.trusted)
			if got.String() != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestTrustedProxiesConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     string
		want    string
		wantErr bool
	}{
		{"unset", nil, "", "", false},
		{"flag", []string{"--trusted-proxies", "10.0.0.0/8, 192.0.2.7,2001:db8::/32"}, "", "10.0.0.0/8,192.0.2.7/32,2001:db8::/32", false},
		{"environment", nil, "172.16.0.0/12", "172.16.0.0/12", false},
		{"flag over environment", []string{"--trusted-proxies", "10.0.0.0/8"}, "172.16.0.0/12", "10.0.0.0/8", false},
		{"not a CIDR", []string{"--trusted-proxies", "proxy.local"}, "", "", true},
		{"malformed environment", nil, "10.0.0.0/33", "", true},
		{"host bits set", []string{"--trusted-proxies", "10.1.2.3/8"}, "", "", true},
		{"every address", []string{"--trusted-proxies", "0.0.0.0/0"}, "", "", true},
		{"every IPv6 address", nil, "::/0", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			env := map[string]string{"FIELDSYNC_TRUSTED_PROXIES": tt.env}
			err := c.ParseFlags(tt.args, func(k string) string { return env[k] })
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, tt.wantErr)
			}
			if err == nil {
				if got := (*prefixList)(&c.TrustedProxies).String(); got != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			}
		})
	}
}
