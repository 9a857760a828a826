package main

import (
	"strconv"
	"strings"

	"github.com/mileusna/useragent"
)

// What describeClient says when a User-Agent tells nothing useful.
const (
	unknownDevice  = "Unknown device"
	unknownBrowser = "Unknown browser"
)

// maxNameLen bounds a name taken from a User-Agent header.
const maxNameLen = 32

// clientDescription is how the sessions page names the client behind a
// User-Agent header.
type clientDescription struct {
	// Device is the kind of machine and its system: "Linux computer",
	// "iPhone", "Android phone", "SAMSUNG SM-S918B", "Bot".
	Device string
	// Browser is the program and its major version: "Firefox 128",
	// "Safari 17", "curl 8".
	Browser string
}

// describeClient names the device and browser of a User-Agent header for
// a person reviewing their sessions, with github.com/mileusna/useragent
// doing the parsing. Neither field is ever "", and neither echoes more of an
// unrecognised header than one short plain name (letters, digits, spaces,
// '-', '_', '.'), so a crafted header shows up as "Unknown ...", not as
// its text.
func describeClient(header string) clientDescription {
	d := clientDescription{Device: unknownDevice, Browser: unknownBrowser}
	header = strings.TrimSpace(header)
	if header == "" {
		return d
	}
	ua := useragent.Parse(header)
	switch name := plainName(ua.Name); {
	case name == "Trident": // the engine Internet Explorer 11 names; its version is the engine's
		d.Browser = useragent.InternetExplorer
	case notBrowsers[name]:
	case name != "":
		d.Browser = name
		if ua.VersionNo.Major > 0 {
			d.Browser += " " + strconv.Itoa(ua.VersionNo.Major)
		}
	}
	kind := ""
	switch {
	case ua.Bot:
		d.Device = "Bot"
		return d
	case ua.Tablet:
		kind = "tablet"
	case ua.Mobile:
		kind = "phone"
	case ua.Desktop:
		kind = "computer"
	}
	os := plainName(ua.OS)
	// A named model ("iPhone", "SAMSUNG SM-S918B"); Chrome's reduced
	// User-Agent names every Android phone "K", which says nothing.
	if model := plainName(ua.Device); len(model) > 1 && kind != "computer" {
		d.Device = model
		return d
	}
	switch {
	case os != "" && kind != "":
		d.Device = os + " " + kind
	case os != "":
		d.Device = os
	case kind != "":
		d.Device = strings.ToUpper(kind[:1]) + kind[1:]
	}
	return d
}

// notBrowsers are names the library falls back to for a User-Agent that
// names a platform but no browser ("Mozilla/5.0 (X11; Linux x86_64)").
var notBrowsers = map[string]bool{"X11": true, "Linux": true, "Windows": true, "Macintosh": true, "compatible": true}

// plainName returns s trimmed when it is a short plain name (ASCII letters,
// digits, spaces, '-', '_' and '.', at most maxNameLen bytes), else "".
func plainName(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxNameLen {
		return ""
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == ' ':
		default:
			return ""
		}
	}
	return s
}
