package main

import "strings"

// unknownDevice is what deviceName returns when a User-Agent says nothing
// useful.
const unknownDevice = "Unknown device"

// A uaRule maps User-Agent substrings to a name. Rules are tried in order and
// the first rule with a matching substring wins, so more specific tokens
// ("Edg/", which Edge sends beside "Chrome/") come first.
type uaRule struct {
	name   string
	tokens []string
}

// clientRules recognise non-browser HTTP clients, whose User-Agent names
// neither a browser nor a platform.
var clientRules = []uaRule{
	{"curl", []string{"curl/"}},
	{"Wget", []string{"Wget/"}},
	{"HTTPie", []string{"HTTPie/"}},
	{"Postman", []string{"PostmanRuntime/"}},
	{"Python requests", []string{"python-requests/"}},
	{"Go HTTP client", []string{"Go-http-client/"}},
}

var browserRules = []uaRule{
	{"Edge", []string{"Edg/", "EdgA/", "EdgiOS/", "Edge/"}},
	{"Opera", []string{"OPR/", "OPT/", "Opera"}},
	{"Samsung Internet", []string{"SamsungBrowser/"}},
	{"Vivaldi", []string{"Vivaldi/"}},
	{"Yandex Browser", []string{"YaBrowser/"}},
	{"Firefox", []string{"Firefox/", "FxiOS/"}},
	{"Chromium", []string{"Chromium/"}},
	{"Chrome", []string{"Chrome/", "CriOS/"}},
	{"Safari", []string{"Safari/"}},
	{"Internet Explorer", []string{"MSIE ", "Trident/"}},
}

var platformRules = []uaRule{
	{"iPhone", []string{"iPhone", "iPod"}},
	{"iPad", []string{"iPad"}},
	{"Android", []string{"Android"}},
	{"Windows", []string{"Windows"}},
	{"ChromeOS", []string{"CrOS"}},
	{"macOS", []string{"Macintosh", "Mac OS X"}},
	{"FreeBSD", []string{"FreeBSD"}},
	{"Linux", []string{"Linux", "X11"}},
}

// match returns the name of the first rule with a token in ua, or "".
func match(rules []uaRule, ua string) string {
	for _, r := range rules {
		for _, t := range r.tokens {
			if strings.Contains(ua, t) {
				return r.name
			}
		}
	}
	return ""
}

// deviceName describes the client behind a User-Agent header in a few words
// for a person reviewing their sessions: "Firefox on Linux", "Safari on
// iPhone", "curl", "Googlebot". It never returns "" and never echoes more
// than one short product token of an unrecognised header.
func deviceName(ua string) string {
	ua = strings.TrimSpace(ua)
	if ua == "" {
		return unknownDevice
	}
	if bot := botName(ua); bot != "" {
		return bot
	}
	if c := match(clientRules, ua); c != "" {
		return c
	}
	browser, platform := match(browserRules, ua), match(platformRules, ua)
	switch {
	case browser != "" && platform != "":
		return browser + " on " + platform
	case browser != "":
		return browser
	case platform != "":
		return "Browser on " + platform
	}
	if p := productToken(ua); p != "" {
		return p
	}
	return unknownDevice
}

// botName returns the crawler name in ua ("Googlebot", "bingbot"), or "".
// Crawlers often also claim to be Chrome on Android, so this runs first. A
// token counts only when it ends in "bot" and is not all capitals, so a phone
// model such as "CUBOT X19" is not taken for a crawler.
func botName(ua string) string {
	for _, f := range strings.FieldsFunc(ua, func(r rune) bool {
		return r == ' ' || r == ';' || r == '(' || r == ')' || r == '/' || r == ','
	}) {
		if len(f) > 3 && len(f) <= 32 && isToken(f) && f != strings.ToUpper(f) &&
			(strings.HasSuffix(f, "bot") || strings.HasSuffix(f, "Bot")) {
			return f
		}
	}
	return ""
}

// productToken returns the leading product name of ua ("sesdemo-test" for
// "sesdemo-test/1.0 (x)") when it is a short plain token, or "".
func productToken(ua string) string {
	p, _, _ := strings.Cut(ua, "/")
	p, _, _ = strings.Cut(p, " ")
	if p == "" || len(p) > 32 || !isToken(p) || p == "Mozilla" {
		return ""
	}
	return p
}

// isToken reports whether s has only ASCII letters, digits, '-', '_' and '.'.
func isToken(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			return false
		}
	}
	return true
}
