package engine

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// An extension's URL is whatever an administrator typed, and accessd calls
// it from inside its own network. Unchecked, a callout could reach what only
// accessd's host can: a cloud's metadata service (and with it the host's
// credentials), services on loopback, the private network. The guard checks
// the address of every connection a callout makes, after DNS, just before
// connecting: a name that resolves to a harmless address when it is checked
// and to another when it is used (DNS rebinding) has no second resolution
// to exploit.

// addressRule is one class of addresses callouts may not reach.
type addressRule struct {
	what    string // how a refusal names the class
	private bool   // reachable with AllowPrivate: an extension on this host or network
	ranges  []netip.Prefix
}

// addressRules are checked in order and the first match decides, so the
// metadata addresses come before the link-local and private ranges that
// hold them.
var addressRules = []addressRule{
	// AWS, GCP, Azure, Oracle and DigitalOcean (169.254.169.254, and AWS's
	// fd00:ec2::254), AWS ECS task credentials (169.254.170.2), EKS pod
	// identity (169.254.170.23, fd00:ec2::23), Alibaba (100.100.100.200),
	// Azure's WireServer (168.63.129.16, a public address).
	{what: "a cloud metadata address", ranges: prefixes("169.254.169.254/32", "169.254.170.2/32", "169.254.170.23/32",
		"100.100.100.200/32", "168.63.129.16/32", "fd00:ec2::254/128", "fd00:ec2::23/128")},
	// Connecting to 0.0.0.0 or :: reaches the host itself.
	{what: "an unspecified address", ranges: prefixes("0.0.0.0/8", "::/128")},
	{what: "a link-local address", ranges: prefixes("169.254.0.0/16", "fe80::/10")},
	{what: "a multicast address", ranges: prefixes("224.0.0.0/4", "ff00::/8")},
	{what: "a broadcast or reserved address", ranges: prefixes("240.0.0.0/4")},
	{what: "a loopback address", private: true, ranges: prefixes("127.0.0.0/8", "::1/128")},
	{what: "a private address", private: true, ranges: prefixes("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
		"100.64.0.0/10", "fc00::/7")},
}

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// embeddedIPv4 is the IPv4 host an IPv6 address reaches, if it is one of
// the forms that carry it: IPv4-mapped (::ffff:a.b.c.d, which the kernel
// connects to over IPv4), NAT64 (64:ff9b::/96, which a NAT64 gateway
// translates) and 6to4 (2002::/16). Without this, ::ffff:169.254.169.254
// would pass as an ordinary IPv6 address.
func embeddedIPv4(ip netip.Addr) (v4 netip.Addr, form string, ok bool) {
	b := ip.As16()
	switch {
	case ip.Is4In6():
		return ip.Unmap(), "IPv4-mapped", true
	case nat64Prefix.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), "NAT64", true
	case sixToFourPrefix.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), "6to4", true
	}
	return netip.Addr{}, "", false
}

var (
	nat64Prefix     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFourPrefix = netip.MustParsePrefix("2002::/16")
)

// addressGuard decides which addresses callouts may connect to.
type addressGuard struct {
	allowPrivate bool
}

// refusedAddressError is a connection the guard refused: the address and
// the rule that refused it, which a failed callout's detail names.
type refusedAddressError struct {
	Addr     netip.Addr
	Embedded netip.Addr // the IPv4 address Addr carries, when Form says how
	Form     string     // "IPv4-mapped", "NAT64" or "6to4"; "" when Addr was checked itself
	Rule     string     // "a cloud metadata address", "a loopback address", …
	Range    netip.Prefix
	Private  bool // AllowPrivate would have let it through
}

func (e *refusedAddressError) Error() string {
	return e.address() + " is " + e.reason()
}

// address is the address as dialed, and the IPv4 address it stands for.
func (e *refusedAddressError) address() string {
	if e.Form == "" {
		return e.Addr.String()
	}
	return fmt.Sprintf("%s (the %s form of %s)", e.Addr, e.Form, e.Embedded)
}

// reason names the rule: the class, its range, and whether
// --callout-allow-private would let it through.
func (e *refusedAddressError) reason() string {
	if e.Private {
		return fmt.Sprintf("%s (%s), refused without --callout-allow-private", e.Rule, e.Range)
	}
	return fmt.Sprintf("%s (%s), always refused", e.Rule, e.Range)
}

// check says why callouts may not reach ip, or nil when they may.
func (g addressGuard) check(ip netip.Addr) *refusedAddressError {
	ip = ip.WithZone("")
	checked := ip
	v4, form, embedded := embeddedIPv4(ip)
	if embedded {
		checked = v4
	}
	for _, rule := range addressRules {
		for _, r := range rule.ranges {
			if !r.Contains(checked) {
				continue
			}
			if rule.private && g.allowPrivate {
				return nil
			}
			e := &refusedAddressError{Addr: ip, Rule: rule.what, Range: r, Private: rule.private}
			if embedded {
				e.Embedded, e.Form = v4, form
			}
			return e
		}
	}
	return nil
}

// calloutRefusedError is a callout whose host offered no address the guard
// allows.
type calloutRefusedError struct {
	Host    string                 // as the URL names it
	Refused []*refusedAddressError // every address of the host, in the resolver's order
}

func (e *calloutRefusedError) Error() string {
	if _, err := netip.ParseAddr(e.Host); err == nil {
		return "callout refused: " + e.Refused[0].Error()
	}
	reasons := make([]string, len(e.Refused))
	for i, r := range e.Refused {
		reasons[i] = r.address() + ", " + r.reason()
	}
	return "callout refused: " + e.Host + " resolves to " + strings.Join(reasons, "; ")
}

// guardedDialer connects callouts. It resolves the host itself, checks every
// address of the answer, and connects to the allowed ones, in the resolver's
// order, by address: nothing resolves the name again between the check and
// the connection.
type guardedDialer struct {
	guard  addressGuard
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	dialer net.Dialer
}

func (d *guardedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else if addrs, err = d.lookup(ctx, host); err != nil {
		return nil, err
	}
	var refused []*refusedAddressError
	var dialErr error
	for _, ip := range addrs {
		if r := d.guard.check(ip); r != nil {
			refused = append(refused, r)
			continue
		}
		conn, err := d.dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		dialErr = err
	}
	refusal := &calloutRefusedError{Host: host, Refused: refused}
	switch {
	case dialErr == nil && len(refused) > 0:
		return nil, refusal
	case dialErr == nil:
		return nil, fmt.Errorf("%s resolves to no address", host)
	case len(refused) > 0:
		return nil, fmt.Errorf("%w; and %w", dialErr, refusal)
	}
	return nil, dialErr
}

func lookupHost(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// calloutNetwork is how callouts reach extensions.
type calloutNetwork struct {
	allowPrivate bool
	// proxy, when set, carries every callout. It is the operator's choice,
	// so its own address is not checked; it resolves and connects to the
	// extension, so only a URL that names an IP address can be checked here.
	proxy  *url.URL
	lookup func(ctx context.Context, host string) ([]netip.Addr, error) // nil: the system's resolver
}

// client builds the HTTP client of callouts. It never follows redirects (a
// 3xx is an answer, and not a 2xx; following one would also lead the
// callout somewhere the administrator did not name) and never reads the
// proxy environment variables: a proxy set for accessd's other traffic must
// not decide where callouts go, nor bypass the guard.
func (n calloutNetwork) client() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	guard := addressGuard{allowPrivate: n.allowPrivate}
	dialer := net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if n.proxy != nil {
		proxy := n.proxy
		t.Proxy = func(req *http.Request) (*url.URL, error) {
			if ip, err := netip.ParseAddr(req.URL.Hostname()); err == nil {
				if r := guard.check(ip); r != nil {
					return nil, &calloutRefusedError{Host: req.URL.Hostname(), Refused: []*refusedAddressError{r}}
				}
			}
			return proxy, nil
		}
		t.DialContext = dialer.DialContext
	} else {
		lookup := n.lookup
		if lookup == nil {
			lookup = lookupHost
		}
		t.Proxy = nil
		t.DialContext = (&guardedDialer{guard: guard, lookup: lookup, dialer: dialer}).DialContext
	}
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
