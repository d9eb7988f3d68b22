// Package depcheck holds the tests that fence xbuild's package imports:
// imports point down the data flow of DESIGN.md, never up.
package depcheck
