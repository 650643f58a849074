package stepline

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/jsii-runtime-go"

	"github.com/stepline/stepline/pkg/store/dynamo"
)

// storage creates the artifact bucket and its policy, and the table.
func (s *Stepline) storage() {
	s.ArtifactBucket = awss3.NewCfnBucket(s.Construct, jsii.String("ArtifactBucket"), &awss3.CfnBucketProps{
		BucketEncryption: &awss3.CfnBucket_BucketEncryptionProperty{
			ServerSideEncryptionConfiguration: []any{&awss3.CfnBucket_ServerSideEncryptionRuleProperty{
				ServerSideEncryptionByDefault: &awss3.CfnBucket_ServerSideEncryptionByDefaultProperty{
					SseAlgorithm: jsii.String("AES256"),
				},
			}},
		},
		PublicAccessBlockConfiguration: &awss3.CfnBucket_PublicAccessBlockConfigurationProperty{
			BlockPublicAcls:       jsii.Bool(true),
			BlockPublicPolicy:     jsii.Bool(true),
			IgnorePublicAcls:      jsii.Bool(true),
			RestrictPublicBuckets: jsii.Bool(true),
		},
		OwnershipControls: &awss3.CfnBucket_OwnershipControlsProperty{
			Rules: []any{&awss3.CfnBucket_OwnershipControlsRuleProperty{
				ObjectOwnership: jsii.String("BucketOwnerEnforced"),
			}},
		},
		LifecycleConfiguration: &awss3.CfnBucket_LifecycleConfigurationProperty{
			Rules: []any{
				&awss3.CfnBucket_RuleProperty{
					Id:               jsii.String("ExpireRuns"),
					Status:           jsii.String("Enabled"),
					Prefix:           jsii.String("runs/"),
					ExpirationInDays: jsii.Number(float64(s.Props.ArtifactRetentionDays)),
				},
				// Untrusted runs' artifacts (docs/trust.md), kept as long as the trusted ones.
				&awss3.CfnBucket_RuleProperty{
					Id:               jsii.String("ExpireUntrustedRuns"),
					Status:           jsii.String("Enabled"),
					Prefix:           jsii.String(UntrustedPrefix),
					ExpirationInDays: jsii.Number(float64(s.Props.ArtifactRetentionDays)),
				},
				&awss3.CfnBucket_RuleProperty{
					Id:               jsii.String("ExpireWebhookEvents"),
					Status:           jsii.String("Enabled"),
					Prefix:           jsii.String("webhooks/"),
					ExpirationInDays: jsii.Number(7),
				},
				&awss3.CfnBucket_RuleProperty{
					Id:     jsii.String("AbortIncompleteUploads"),
					Status: jsii.String("Enabled"),
					AbortIncompleteMultipartUpload: &awss3.CfnBucket_AbortIncompleteMultipartUploadProperty{
						DaysAfterInitiation: jsii.Number(1),
					},
				},
			},
		},
	})
	s.ArtifactBucket.OverrideLogicalId(jsii.String("ArtifactBucket"))
	// Deleting the stack must not fail on a non-empty bucket nor take the artifacts with it.
	retainExceptOnCreate(s.ArtifactBucket)

	bucketArn := *s.ArtifactBucket.AttrArn()
	policy := awss3.NewCfnBucketPolicy(s.Construct, jsii.String("ArtifactBucketPolicy"), &awss3.CfnBucketPolicyProps{
		Bucket:         s.ArtifactBucket.Ref(),
		PolicyDocument: document(denyInsecureTransport("s3:*", bucketArn, bucketArn+"/*")),
	})
	policy.OverrideLogicalId(jsii.String("ArtifactBucketPolicy"))

	s.Table = awsdynamodb.NewCfnTable(s.Construct, jsii.String("Table"), tableProps(s.Props.Name))
	s.Table.OverrideLogicalId(jsii.String("Table"))
	// Run history and the pipeline registry outlive a stack deletion or replacement.
	retainExceptOnCreate(s.Table)
}

// retainExceptOnCreate keeps a resource holding data when the stack is deleted or the resource
// replaced, but not when the create that made it rolls back: a retained table named ${Name}
// would make every retry of a failed first deploy fail with "already exists". CDK renders
// RETAIN_ON_UPDATE_OR_DELETE as DeletionPolicy RetainExceptOnCreate and UpdateReplacePolicy
// Retain (UpdateReplacePolicy has no RetainExceptOnCreate: a replacement happens only after a
// create succeeded).
// https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
// https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-updatereplacepolicy.html
func retainExceptOnCreate(r awscdk.CfnResource) {
	r.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE, &awscdk.RemovalPolicyOptions{ApplyToUpdateReplacePolicy: jsii.Bool(true)})
}

// tableProps translates dynamo.Schema, the table's one definition, into CloudFormation.
func tableProps(name string) *awsdynamodb.CfnTableProps {
	schema := dynamo.Schema(name)
	keys := func(elements []types.KeySchemaElement) []any {
		out := make([]any, len(elements))
		for i, k := range elements {
			out[i] = &awsdynamodb.CfnTable_KeySchemaProperty{AttributeName: k.AttributeName, KeyType: jsii.String(string(k.KeyType))}
		}
		return out
	}
	var attributes []any
	for _, a := range schema.AttributeDefinitions {
		attributes = append(attributes, &awsdynamodb.CfnTable_AttributeDefinitionProperty{
			AttributeName: a.AttributeName,
			AttributeType: jsii.String(string(a.AttributeType)),
		})
	}
	var indexes []any
	for _, g := range schema.GlobalSecondaryIndexes {
		projection := &awsdynamodb.CfnTable_ProjectionProperty{ProjectionType: jsii.String(string(g.Projection.ProjectionType))}
		if len(g.Projection.NonKeyAttributes) > 0 {
			projection.NonKeyAttributes = jsii.Strings(g.Projection.NonKeyAttributes...)
		}
		indexes = append(indexes, &awsdynamodb.CfnTable_GlobalSecondaryIndexProperty{
			IndexName:  g.IndexName,
			KeySchema:  keys(g.KeySchema),
			Projection: projection,
		})
	}
	return &awsdynamodb.CfnTableProps{
		TableName:              schema.TableName,
		BillingMode:            jsii.String(string(schema.BillingMode)),
		AttributeDefinitions:   attributes,
		KeySchema:              keys(schema.KeySchema),
		GlobalSecondaryIndexes: indexes,
		TimeToLiveSpecification: &awsdynamodb.CfnTable_TimeToLiveSpecificationProperty{
			AttributeName: jsii.String(dynamo.TTLAttribute),
			Enabled:       jsii.Bool(true),
		},
		PointInTimeRecoverySpecification: &awsdynamodb.CfnTable_PointInTimeRecoverySpecificationProperty{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
	}
}
