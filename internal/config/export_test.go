package config

import (
	"reflect"
	"sort"
)

// EnvNames lists every variable a config struct reads (the .env.example and README checks).
func EnvNames(cfg any) []string {
	m := fieldEnvNames(reflect.TypeOf(cfg).Elem())
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}
