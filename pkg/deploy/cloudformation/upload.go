package cloudformation

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// objectPutter is the one S3 call S3Templates makes.
type objectPutter interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

var _ objectPutter = (*s3.Client)(nil)

// S3Templates uploads templates to a bucket under a prefix (the artifact bucket, whose
// lifecycle expires them) and names them by the virtual-hosted-style URL CloudFormation reads
// TemplateURL from.
// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html
type S3Templates struct {
	s3     objectPutter
	bucket string
	prefix string
	region string
}

var _ TemplateUploader = (*S3Templates)(nil)

// NewS3Templates returns an uploader to bucket (in region) under prefix ("templates/", say).
func NewS3Templates(c objectPutter, bucket, prefix, region string) *S3Templates {
	return &S3Templates{s3: c, bucket: bucket, prefix: prefix, region: region}
}

// UploadTemplate puts body at prefix+name and returns its URL.
func (u *S3Templates) UploadTemplate(ctx context.Context, name string, body []byte) (string, error) {
	key := u.prefix + name
	if _, err := u.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(u.bucket), Key: aws.String(key), Body: bytes.NewReader(body), ContentType: aws.String("application/x-yaml")}); err != nil {
		return "", fmt.Errorf("put s3://%s/%s: %w", u.bucket, key, err)
	}
	domain := "amazonaws.com"
	if strings.HasPrefix(u.region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	return fmt.Sprintf("https://%s.s3.%s.%s/%s", u.bucket, u.region, domain, key), nil
}
