package statemachine_test

import (
	"testing"

	"github.com/stepline/stepline/pkg/awstest"
)

// TestMain starts the one moto server the deploy and notification runs share.
func TestMain(m *testing.M) { awstest.Main(m) }
