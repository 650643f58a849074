//go:build tools

// Package tools pins dependencies that packages are about to use, so go mod tidy keeps them.
package tools
import (
 _ "gopkg.in/yaml.v3"
 _ "github.com/bmatcuk/doublestar/v4"
 _ "go.etcd.io/bbolt"
 _ "github.com/spf13/cobra"
 _ "github.com/stretchr/testify/require"
 _ "golang.org/x/term"
)
