// Package config loads each service's settings from the environment with the names of the
// original Workers, so a user's .env keeps working, and reports every problem at once: an
// operator fixing a deployment should not have to restart it once per typo.
package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alist-edge/alist-edge/pkg/policy"
	"github.com/caarlos0/env/v11"
)

// ByteSize is a size in bytes written like "500MB" or "1.5TB" (1024-based, case-insensitive).
type ByteSize int64

// UnmarshalText implements encoding.TextUnmarshaler for env.
func (s *ByteSize) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	*s = ByteSize(v)
	return err
}

const sizeAccepted = policy.SizeAccepted

// ParseSize reads "500MB"-style sizes (policy.ParseSize); an empty string is 0.
func ParseSize(s string) (int64, error) {
	if strings.TrimSpace(s) == "" {
		return 0, nil
	}
	n, err := policy.ParseSize(s)
	if err != nil {
		return 0, fmt.Errorf("not a size; accepted: %s", sizeAccepted)
	}
	return n, nil
}

const durationAccepted = "a duration such as 30s, 10m, 24h, 1d or 1h30m (a bare number is seconds)"

// ParseDuration reads Go durations plus days ("1d", "1d12h") and bare seconds ("3600").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 && n < math.MaxInt64/int64(time.Second) {
		return time.Duration(n) * time.Second, nil
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseFloat(s[:i], 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("not a duration; accepted: %s", durationAccepted)
		}
		days = time.Duration(n * 24 * float64(time.Hour))
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("not a duration; accepted: %s", durationAccepted)
	}
	return days + d, nil
}

const boolAccepted = "1, true, yes, on, 0, false, no or off"

// ParseBool accepts 1/true/yes/on and 0/false/no/off in any case.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean; accepted: %s", boolAccepted)
}

var funcMap = map[reflect.Type]env.ParserFunc{
	reflect.TypeOf(false): func(v string) (any, error) { return ParseBool(v) },
	reflect.TypeOf(time.Duration(0)): func(v string) (any, error) {
		return ParseDuration(v)
	},
	reflect.TypeOf(0): func(v string) (any, error) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return nil, errors.New("not an integer; accepted: a whole number such as 100")
		}
		return n, nil
	},
	reflect.TypeOf(float64(0)): func(v string) (any, error) {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, errors.New("not a number; accepted: a number such as 10 or 2.5")
		}
		return f, nil
	},
}

// Problems collects every configuration problem of one load, each naming its variable.
type Problems struct{ list []string }

// Addf records a problem; format should start with the variable name.
func (p *Problems) Addf(format string, args ...any) {
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

// Add records every line of err (nil is nothing); the lines must already name their variable.
func (p *Problems) Add(err error) {
	if err != nil {
		p.list = append(p.list, strings.Split(err.Error(), "\n")...)
	}
}

// Err is nil when there was no problem, else one error listing them all.
func (p *Problems) Err() error {
	if len(p.list) == 0 {
		return nil
	}
	sort.Strings(p.list)
	return &Error{Problems: p.list}
}

// Error is an invalid configuration: every problem, one per line.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return fmt.Sprintf("invalid configuration (%d problem(s)):\n  %s", len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// parse fills cfg (a pointer to a struct with env tags) from environ and records every parse
// problem with the variable's name, the value given and what is accepted.
func parse(environ map[string]string, cfg any, probs *Problems) {
	err := env.ParseWithOptions(cfg, env.Options{Environment: environ, FuncMap: funcMap})
	if err == nil {
		return
	}
	names := fieldEnvNames(reflect.TypeOf(cfg).Elem())
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		probs.list = append(probs.list, err.Error())
		return
	}
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			name := names[pe.Name]
			probs.Addf("%s=%q: %v", name, environ[name], pe.Err)
			continue
		}
		probs.list = append(probs.list, e.Error())
	}
}

// fieldEnvNames maps Go field names to their env variable names (field names are unique across
// a service's embedded structs).
func fieldEnvNames(t reflect.Type) map[string]string {
	out := map[string]string{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Tag.Get("env") == "" {
			for k, v := range fieldEnvNames(f.Type) {
				out[k] = v
			}
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" && name != "-" {
			out[f.Name] = name
		}
	}
	return out
}
