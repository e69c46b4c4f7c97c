//go:build wasip1

package main

import (
	"strconv"
	"strings"
)

var monthNames = []string{"", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
var dayNames = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

func values(f field, lo, hi int) []int {
	var out []int
	for v := lo; v <= hi; v++ {
		if f.has(v) {
			out = append(out, v)
		}
	}
	return out
}

func list(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// step reports a field written as */n.
func step(f field) (int, bool) {
	if _, s, ok := strings.Cut(f.src, "/"); ok && strings.HasPrefix(f.src, "*/") {
		n, err := strconv.Atoi(s)
		return n, err == nil
	}
	return 0, false
}

func (s *schedule) describe() string {
	var parts []string
	mins, hours := values(s.minute, 0, 59), values(s.hour, 0, 23)
	switch {
	case s.minute.all && s.hour.all:
		parts = append(parts, "every minute")
	case len(mins) == 1 && len(hours) == 1:
		parts = append(parts, "at "+twoDigits(hours[0])+":"+twoDigits(mins[0]))
	case len(mins) == 1 && len(hours) <= 6 && !s.hour.all:
		var ts []string
		for _, h := range hours {
			ts = append(ts, twoDigits(h)+":"+twoDigits(mins[0]))
		}
		parts = append(parts, "at "+list(ts))
	default:
		if n, ok := step(s.minute); ok {
			parts = append(parts, "every "+strconv.Itoa(n)+" minutes")
		} else if s.minute.all {
			parts = append(parts, "every minute")
		} else if len(mins) == 1 {
			if s.hour.all {
				parts = append(parts, "at minute "+strconv.Itoa(mins[0])+" of every hour")
			} else {
				parts = append(parts, "at minute "+strconv.Itoa(mins[0]))
			}
		} else {
			parts = append(parts, "at minutes "+intList(mins))
		}
		if !s.hour.all {
			if n, ok := step(s.hour); ok {
				parts = append(parts, "every "+strconv.Itoa(n)+" hours")
			} else {
				var hs []string
				for _, h := range hours {
					hs = append(hs, twoDigits(h)+":00")
				}
				parts = append(parts, "during the hours starting "+list(hs))
			}
		}
	}
	if !s.dom.all {
		parts = append(parts, "on day "+intList(values(s.dom, 1, 31))+" of the month")
	}
	if !s.dow.all {
		var ds []string
		for _, d := range values(s.dow, 0, 6) {
			ds = append(ds, dayNames[d])
		}
		w := "on " + list(ds)
		if !s.dom.all {
			w = "or " + w
		}
		parts = append(parts, w)
	}
	if !s.month.all {
		var ms []string
		for _, m := range values(s.month, 1, 12) {
			ms = append(ms, monthNames[m])
		}
		parts = append(parts, "in "+list(ms))
	}
	d := strings.Join(parts, ", ")
	return strings.ToUpper(d[:1]) + d[1:]
}

func intList(vs []int) string {
	ws := make([]string, len(vs))
	for i, v := range vs {
		ws[i] = strconv.Itoa(v)
	}
	return list(ws)
}
