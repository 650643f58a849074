package store_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOnlyTheCommandLineLooksRunsUpByPrefix keeps prefix look-ups a command-line nicety:
// outside pkg/cli and the stores themselves, no code calls FindRun, so no function, step or
// server path can ever answer an id with another run it prefixes.
func TestOnlyTheCommandLineLooksRunsUpByPrefix(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	allowed := []string{filepath.Join("pkg", "cli"), filepath.Join("pkg", "store")}
	var callers []string
	seen := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() && path != root {
			if strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			for _, a := range allowed {
				if rel == a {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		seen++
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "FindRun" {
				callers = append(callers, rel)
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, seen, 100, "the walk reached the repository's packages")
	assert.Empty(t, callers, "server code looks runs up by exact id (store.Store.GetRun), never by prefix")
}
