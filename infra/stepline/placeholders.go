package stepline

import (
	"archive/zip"
	"fmt"
	"os"
	"path/filepath"
)

// WritePlaceholderZips writes an empty zip archive for every function into dir, so a
// template can be synthesized (in tests, for cfn-lint, for the SAM parity check) without
// building the functions first. Such a template deploys functions that cannot start.
func WritePlaceholderZips(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("placeholder zips: %w", err)
	}
	for _, fn := range FunctionNames() {
		path := filepath.Join(dir, fn+".zip")
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("placeholder zip: %w", err)
		}
		if err := zip.NewWriter(f).Close(); err != nil {
			f.Close()
			return fmt.Errorf("placeholder zip %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("placeholder zip %s: %w", path, err)
		}
	}
	return nil
}
