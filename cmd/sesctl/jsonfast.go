package main

import (
	"strconv"

	"github.com/sesbolt/sesbolt/internal/jsonenc"
)

// A hand-written encoder for the rows of "list -o json", which may run to
// millions: encoding/json spends most of its time validating what
// time.Time.MarshalJSON returns. appendSessionView writes exactly what
// encoding/json writes for a sessionView with HTML escaping off (the tests
// hold it to that).

// appendSessionView appends v as one JSON object.
func appendSessionView(b []byte, v *sessionView) []byte {
	b = append(b, `{"id":`...)
	b = jsonenc.AppendString(b, v.ID)
	b = append(b, `,"user":`...)
	b = jsonenc.AppendString(b, v.User)
	b = append(b, `,"created":`...)
	b = jsonenc.AppendTime(b, v.Created)
	b = append(b, `,"last_seen":`...)
	b = jsonenc.AppendTime(b, v.LastSeen)
	b = append(b, `,"expires":`...)
	b = jsonenc.AppendTime(b, v.Expires)
	b = append(b, `,"idle_expires":`...)
	b = jsonenc.AppendTime(b, v.IdleExpires)
	b = append(b, `,"deadline":`...)
	b = jsonenc.AppendTime(b, v.Deadline)
	b = append(b, `,"expired":`...)
	b = strconv.AppendBool(b, v.Expired)
	b = append(b, `,"persistent":`...)
	b = strconv.AppendBool(b, v.Persistent)
	b = append(b, `,"ip":`...)
	b = jsonenc.AppendString(b, v.IP)
	b = append(b, `,"user_agent":`...)
	b = jsonenc.AppendString(b, v.UserAgent)
	b = append(b, `,"last_ip":`...)
	b = jsonenc.AppendString(b, v.LastIP)
	b = append(b, `,"last_user_agent":`...)
	b = jsonenc.AppendString(b, v.LastUserAgent)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, int64(v.Size), 10)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, v.Version, 10)
	return append(b, '}')
}
