// This directory holds npm tools, not Go code: the aws-cdk package ships Go project templates
// under node_modules, and this go.mod keeps them out of the main module's ./... patterns.
module github.com/stepline/stepline/scripts/node

go 1.26
