package scaffold

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stepline/stepline/pkg/iamcheck"
)

// fileOf returns the body of the planned file at path, or "" when the plan has none.
func fileOf(files []File, path string) string {
	i := slices.IndexFunc(files, func(f File) bool { return f.Path == path })
	if i < 0 {
		return ""
	}
	return string(files[i].Body)
}

// The policy init writes allows what the template's builds call, on what the template
// itself names (the package bucket of infra/packages.yml, the prefix of ci/package.yml, the
// distribution), and nothing next to it; a template whose builds need nothing beyond what
// the stepline stack grants writes no policy and asks for no BuildPolicyArns.
func TestTheBuildPolicyAllowsWhatTheBuildsCall(t *testing.T) {
	account := iamcheck.AccountID
	for _, c := range []struct {
		template, distribution string
		// allowed and denied are written from the template's files (fill below).
		allowed, denied func(t *testing.T, files []File) []iamcheck.Request
	}{
		{template: "ecs-service"},
		{template: "ecs-bluegreen"},
		{template: "static-site"},
		{template: "static-site", distribution: "E2QWRUHAPOMQZL",
			// CreateInvalidation is authorized on the distribution's ARN, which has no region.
			// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudfront.html
			allowed: func(*testing.T, []File) []iamcheck.Request {
				return []iamcheck.Request{{Action: "cloudfront:CreateInvalidation", Resource: "arn:aws:cloudfront::" + account + ":distribution/E2QWRUHAPOMQZL"}}
			},
			denied: func(*testing.T, []File) []iamcheck.Request {
				return []iamcheck.Request{
					{Action: "cloudfront:CreateInvalidation", Resource: "arn:aws:cloudfront::" + account + ":distribution/E3OTHERSITE"},
					{Action: "cloudfront:UpdateDistribution", Resource: "arn:aws:cloudfront::" + account + ":distribution/E2QWRUHAPOMQZL"},
				}
			}},
		{template: "sam-api",
			// sam package asks for each object (HeadObject: s3:GetObject) and uploads it when it
			// is missing (PutObject, or CreateMultipartUpload, UploadPart and
			// CompleteMultipartUpload: s3:PutObject; AbortMultipartUpload on a failure).
			// https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
			// https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions
			allowed: func(t *testing.T, files []File) []iamcheck.Request {
				object := packageObject(t, files, "0123456789abcdef0123456789abcdef")
				return []iamcheck.Request{
					{Action: "s3:GetObject", Resource: object},
					{Action: "s3:PutObject", Resource: object},
					{Action: "s3:AbortMultipartUpload", Resource: object},
				}
			},
			denied: func(t *testing.T, files []File) []iamcheck.Request {
				object := packageObject(t, files, "0123456789abcdef0123456789abcdef")
				bucket := object[:strings.LastIndex(object, "/shop/")]
				return []iamcheck.Request{
					{Action: "s3:DeleteObject", Resource: object},
					{Action: "s3:PutObject", Resource: bucket + "/other/x"},
					{Action: "s3:PutObject", Resource: "arn:aws:s3:::shop-site-" + account + "-eu-west-1/shop/x"},
					{Action: "s3:PutObject", Resource: "arn:aws:s3:::shop-pkg-" + account + "-us-east-1/shop/x"},
				}
			}},
	} {
		t.Run(c.template+" "+c.distribution, func(t *testing.T) {
			a := goldenAnswers(c.template)
			a.Distribution = c.distribution
			tmpl, err := Lookup(c.template)
			require.NoError(t, err)
			files, err := Plan(c.template, a)
			require.NoError(t, err)
			doc := fileOf(files, BuildPolicyFile)
			var params []string
			for _, p := range tmpl.StackParameters(a) {
				params = append(params, p.Name+"="+p.Value)
			}
			step := "aws iam create-policy --policy-name shop-build --policy-document file://ci/build-policy.json"
			hasStep := slices.ContainsFunc(tmpl.Next(a), func(s string) bool { return strings.HasPrefix(s, step+":") })
			if c.allowed == nil {
				assert.Empty(t, doc, "no policy to write")
				assert.NotContains(t, strings.Join(params, " "), "BuildPolicyArns")
				assert.False(t, hasStep, "no policy to create")
				return
			}
			policy, err := iamcheck.ParsePolicy([]byte(doc))
			require.NoError(t, err, doc)
			for _, q := range c.allowed(t, files) {
				assert.True(t, policy.Allows(q), "the build needs %s", q)
			}
			for _, q := range c.denied(t, files) {
				assert.False(t, policy.Allows(q), "the build does not need %s", q)
			}
			assert.Contains(t, params, "BuildPolicyArns=arn:aws:iam::<account>:policy/shop-build")
			assert.True(t, hasStep, "init says how to create the policy: %q", tmpl.Next(a))
		})
	}
}

// packageObject is the ARN of an object sam package uploads: the bucket infra/packages.yml
// names in the template's account and region, the prefix ci/package.yml gives.
func packageObject(t *testing.T, files []File, key string) string {
	t.Helper()
	bucket := regexp.MustCompile(`BucketName: !Sub (\S+)`).FindStringSubmatch(fileOf(files, "infra/packages.yml"))
	require.NotNil(t, bucket, "infra/packages.yml names its bucket")
	prefix := regexp.MustCompile(`--s3-prefix (\S+)`).FindStringSubmatch(fileOf(files, "ci/package.yml"))
	require.NotNil(t, prefix, "ci/package.yml gives sam package a prefix")
	name := strings.NewReplacer("${AWS::AccountId}", iamcheck.AccountID, "${AWS::Region}", "eu-west-1").Replace(bucket[1])
	return "arn:aws:s3:::" + name + "/" + prefix[1] + "/" + key
}
