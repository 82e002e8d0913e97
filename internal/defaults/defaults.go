// Package defaults fills the options a caller left unset.
package defaults

// Positive returns v, or d when v is zero or negative (an unset size,
// count or duration).
func Positive[T ~int | ~int64 | ~float64](v, d T) T {
	if v <= 0 {
		return d
	}
	return v
}
