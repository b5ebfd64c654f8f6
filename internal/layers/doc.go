// Package layers has no code: its test reads prsim's import graph and
// enforces the layering of docs/architecture.md.
package layers
