package latchkey

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies parses a comma-separated list of IP addresses and
// CIDR prefixes, such as "127.0.0.1,10.0.0.0/8".
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, err
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, err
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (a *Auth) trustedAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range a.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// FromTrustedProxy reports whether the request's peer is a trusted proxy,
// whose X-Forwarded-* headers are therefore believed.
func (a *Auth) FromTrustedProxy(r *http.Request) bool {
	if len(a.cfg.TrustedProxies) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && a.trustedAddr(ap.Addr())
}

// firstValue returns the first comma-separated value of header h.
func firstValue(r *http.Request, h string) string {
	v, _, _ := strings.Cut(r.Header.Get(h), ",")
	return strings.TrimSpace(v)
}

// Secure reports whether the browser reached latchkey over HTTPS: TLS here,
// or X-Forwarded-Proto: https from a trusted proxy. Cookies are then Secure
// (and __Host-), and HSTS is sent. Config.Secure forces it on.
func (a *Auth) Secure(r *http.Request) bool {
	if a.cfg.Secure || r.TLS != nil {
		return true
	}
	return a.FromTrustedProxy(r) && strings.EqualFold(firstValue(r, "X-Forwarded-Proto"), "https")
}

// ClientIP returns the client's address: the peer's, or, behind trusted
// proxies, the rightmost X-Forwarded-For entry that is not a trusted proxy
// (entries further left could be forged by the client).
func (a *Auth) ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if !a.FromTrustedProxy(r) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return host // a malformed chain: trust only what we saw
		}
		if !a.trustedAddr(ip) {
			return ip.Unmap().String()
		}
	}
	return host
}

// originalHost returns the Host the browser used: X-Forwarded-Host from a
// trusted proxy, else the Host header. The cross-origin check compares
// Origin with it.
func (a *Auth) originalHost(r *http.Request) string {
	if a.FromTrustedProxy(r) {
		if h := firstValue(r, "X-Forwarded-Host"); h != "" {
			return h
		}
	}
	return r.Host
}
