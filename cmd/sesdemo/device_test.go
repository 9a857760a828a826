package main

import (
	"strings"
	"testing"
)

func TestDescribeClient(t *testing.T) {
	for _, tc := range []struct {
		ua, device, browser string
	}{
		{"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Linux computer", "Firefox 128"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0", "Windows computer", "Firefox 128"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Windows computer", "Chrome 124"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80", "Windows computer", "Edge 124"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", "macOS computer", "Safari 17"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "iPhone", "Safari 17"},
		{"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "iPad", "Safari 17"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1", "iPhone", "Chrome 124"},
		{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36", "Android phone", "Chrome 124"},
		{"Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0", "Android phone", "Firefox 125"},
		{"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36", "SAMSUNG SM-S918B", "Samsung Browser 24"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "ChromeOS computer", "Chrome 124"},
		{"Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko", "Windows computer", "Internet Explorer"},
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Bot", "Googlebot 2"},
		{"Mozilla/5.0 (X11; Linux x86_64)", "Linux computer", unknownBrowser},
		{"curl/8.5.0", unknownDevice, "curl 8"},
		{"HTTPie/3.2.2", unknownDevice, "HTTPie 3"},
		{"sesdemo-e2e/1.0 (test)", unknownDevice, "sesdemo-e2e 1"},
		// Nothing of a crafted or useless header is echoed.
		{"", unknownDevice, unknownBrowser},
		{"   ", unknownDevice, unknownBrowser},
		{"Mozilla/5.0", unknownDevice, unknownBrowser},
		{"<script>alert(1)</script>", unknownDevice, unknownBrowser},
		{"Mozilla/5.0 (Linux; Android 9; <script>) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0 Mobile Safari/537.36", "Android phone", "Chrome 96"},
		{strings.Repeat("x", 300), unknownDevice, unknownBrowser},
		{"\xff\xfe", unknownDevice, unknownBrowser},
	} {
		if got := describeClient(tc.ua); got.Device != tc.device || got.Browser != tc.browser {
			t.Errorf("describeClient(%q) = %+v, want device %q, browser %q", tc.ua, got, tc.device, tc.browser)
		}
	}
}

func TestPlainName(t *testing.T) {
	for in, want := range map[string]string{
		"Firefox": "Firefox", " Samsung Browser ": "Samsung Browser", "a<b": "", "Mozilla/5.0": "",
		strings.Repeat("a", maxNameLen): strings.Repeat("a", maxNameLen), strings.Repeat("a", maxNameLen+1): "", "zoë": "",
	} {
		if got := plainName(in); got != want {
			t.Errorf("plainName(%q) = %q, want %q", in, got, want)
		}
	}
}
