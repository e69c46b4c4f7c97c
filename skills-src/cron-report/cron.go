//go:build wasip1

package main

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// field is the set of allowed values of one cron field as a bit mask.
type field struct {
	bits uint64
	all  bool // written as "*" (matters for the day-of-month/week rule)
	src  string
}

func (f field) has(v int) bool { return f.bits&(1<<uint(v)) != 0 }

type schedule struct {
	minute, hour, dom, month, dow field
}

type bounds struct {
	name     string
	min, max int
	names    []string // names[i] is the value min+i
}

var (
	minuteB = bounds{name: "minute", min: 0, max: 59}
	hourB   = bounds{name: "hour", min: 0, max: 23}
	domB    = bounds{name: "day of month", min: 1, max: 31}
	monthB  = bounds{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}}
	dowB    = bounds{name: "day of week", min: 0, max: 7, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}}
)

var macros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

func parse(expr string) (*schedule, error) {
	e := strings.TrimSpace(expr)
	if m, ok := macros[strings.ToLower(e)]; ok {
		e = m
	}
	parts := strings.Fields(e)
	if len(parts) != 5 {
		return nil, errors.New("a cron expression has 5 fields (minute hour day-of-month month day-of-week) or is a macro like @daily; got " + strconv.Itoa(len(parts)) + " fields")
	}
	var s schedule
	var err error
	for i, p := range []struct {
		f *field
		b bounds
	}{{&s.minute, minuteB}, {&s.hour, hourB}, {&s.dom, domB}, {&s.month, monthB}, {&s.dow, dowB}} {
		if *p.f, err = parseField(parts[i], p.b); err != nil {
			return nil, err
		}
	}
	if s.dow.has(7) { // 7 is Sunday too
		s.dow.bits |= 1
	}
	return &s, nil
}

func parseValue(s string, b bounds) (int, error) {
	for i, n := range b.names {
		if strings.EqualFold(s, n) {
			return b.min + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < b.min || v > b.max {
		return 0, errors.New(b.name + " value " + strconv.Quote(s) + " is not between " + strconv.Itoa(b.min) + " and " + strconv.Itoa(b.max))
	}
	return v, nil
}

func parseField(s string, b bounds) (field, error) {
	f := field{src: s, all: s == "*" || s == "?"}
	for _, part := range strings.Split(s, ",") {
		rng, stepS, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepS)
			if err != nil || n < 1 || n > b.max {
				return f, errors.New(b.name + " step " + strconv.Quote(stepS) + " is not a positive number in range")
			}
			step = n
		}
		lo, hi := b.min, b.max
		switch {
		case rng == "*" || rng == "?":
		case strings.Contains(rng, "-"):
			a, z, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = parseValue(a, b); err != nil {
				return f, err
			}
			if hi, err = parseValue(z, b); err != nil {
				return f, err
			}
			if hi < lo {
				return f, errors.New(b.name + " range " + strconv.Quote(rng) + " ends before it starts")
			}
		default:
			v, err := parseValue(rng, b)
			if err != nil {
				return f, err
			}
			lo = v
			if !hasStep {
				hi = v
			}
		}
		for v := lo; v <= hi; v += step {
			f.bits |= 1 << uint(v)
		}
	}
	return f, nil
}

// dayMatches applies cron's rule: when both day fields are restricted, a
// day matching either one counts.
func (s *schedule) dayMatches(t time.Time) bool {
	dom, dow := s.dom.has(t.Day()), s.dow.has(int(t.Weekday()))
	if s.dom.all || s.dow.all {
		return dom && dow
	}
	return dom || dow
}

// next returns the first matching minute strictly after t, searching at
// most five years ahead (for "0 0 30 2 *" there is none).
func (s *schedule) next(t time.Time) (time.Time, bool) {
	loc := t.Location()
	t = t.Truncate(time.Minute).Add(time.Minute)
	limit := t.AddDate(5, 0, 0)
	for t.Before(limit) {
		if !s.month.has(int(t.Month())) {
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
			continue
		}
		if !s.dayMatches(t) {
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
			continue
		}
		if !s.hour.has(t.Hour()) {
			n := time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc)
			if !n.After(t) { // a DST fold repeats the hour
				n = t.Add(time.Hour).Truncate(time.Hour)
			}
			t = n
			continue
		}
		if !s.minute.has(t.Minute()) {
			t = t.Add(time.Minute)
			continue
		}
		return t, true
	}
	return time.Time{}, false
}
