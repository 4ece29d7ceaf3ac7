package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"lambdalab/cloud/codepkg"
	"lambdalab/store"
)

// PublishLayerInput is PublishLayerVersion's request.
type PublishLayerInput struct {
	Content                 FunctionCode `json:"Content"`
	CompatibleRuntimes      []string     `json:"CompatibleRuntimes"`
	CompatibleArchitectures []string     `json:"CompatibleArchitectures"`
	Description             string       `json:"Description"`
	LicenseInfo             string       `json:"LicenseInfo"`
}

// layerConfig is a layer version's stored description.
type layerConfig struct {
	Description             string   `json:"description,omitempty"`
	CompatibleRuntimes      []string `json:"runtimes,omitempty"`
	CompatibleArchitectures []string `json:"architectures,omitempty"`
	LicenseInfo             string   `json:"license,omitempty"`
}

// LayerVersion is Lambda's layer version document.
type LayerVersion struct {
	LayerArn                string        `json:"LayerArn"`
	LayerVersionArn         string        `json:"LayerVersionArn"`
	Version                 int64         `json:"Version"`
	Description             string        `json:"Description"`
	CreatedDate             string        `json:"CreatedDate"`
	CompatibleRuntimes      []string      `json:"CompatibleRuntimes,omitempty"`
	CompatibleArchitectures []string      `json:"CompatibleArchitectures,omitempty"`
	LicenseInfo             string        `json:"LicenseInfo,omitempty"`
	Content                 *LayerContent `json:"Content,omitempty"`
}

// LayerContent describes a layer version's package.
type LayerContent struct {
	CodeSha256 string `json:"CodeSha256"`
	CodeSize   int64  `json:"CodeSize"`
	Location   string `json:"Location,omitempty"`
}

func layerDoc(lv store.LambdaLayerVersion, withContent bool) LayerVersion {
	var c layerConfig
	json.Unmarshal(lv.Config, &c)
	arn := layerARN(lv.AccountID, lv.Layer)
	d := LayerVersion{LayerArn: arn, LayerVersionArn: arn + ":" + strconv.Itoa(lv.Version), Version: int64(lv.Version),
		Description: c.Description, CreatedDate: lastModified(lv.CreatedAt), CompatibleRuntimes: c.CompatibleRuntimes,
		CompatibleArchitectures: c.CompatibleArchitectures, LicenseInfo: c.LicenseInfo}
	if withContent {
		d.Content = &LayerContent{CodeSha256: lv.CodeSha256, CodeSize: lv.CodeSize}
	}
	return d
}

// PublishLayerVersion stores a new version of a layer.
func (s *Service) PublishLayerVersion(ctx context.Context, account, layer string, in PublishLayerInput) (LayerVersion, error) {
	if !layerNamRE.MatchString(layer) {
		return LayerVersion{}, invalid("1 validation error detected: Value '%s' at 'layerName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+", layer)
	}
	if err := checkDescription(in.Description); err != nil {
		return LayerVersion{}, err
	}
	if len(in.CompatibleRuntimes) > 15 {
		return LayerVersion{}, invalid("CompatibleRuntimes can hold at most 15 runtimes")
	}
	for _, a := range in.CompatibleArchitectures {
		if a != "x86_64" && a != "arm64" {
			return LayerVersion{}, invalid("1 validation error detected: Value '[%s]' at 'compatibleArchitectures' failed to satisfy constraint: Member must satisfy enum value set: [x86_64, arm64]", a)
		}
	}
	pkg, err := s.putCode(ctx, in.Content, 0)
	if err != nil {
		return LayerVersion{}, err
	}
	cfg, _ := json.Marshal(layerConfig{Description: in.Description, CompatibleRuntimes: in.CompatibleRuntimes,
		CompatibleArchitectures: in.CompatibleArchitectures, LicenseInfo: in.LicenseInfo})
	lv, err := s.db.PublishLayerVersion(ctx, store.LambdaLayerVersion{AccountID: account, Layer: layer,
		CodeSha256: pkg.Sha256, CodeSize: pkg.Size, UnzippedSize: pkg.UnzippedSize, Config: cfg, CreatedAt: now()})
	if err != nil {
		return LayerVersion{}, fmt.Errorf("publish layer %s: %w", layer, err)
	}
	s.logger.InfoContext(ctx, "layer version published", "account", account, "layer", layer, "version", lv.Version, "code_size", pkg.Size)
	return layerDoc(lv, true), nil
}

// checkLayerName refuses a LayerName outside the pattern and length Lambda
// documents for it (a name or a layer ARN, 1 to 140 characters), with the
// exception PublishLayerVersion answers for a bad name.
func checkLayerName(layer string) error {
	var failed []string
	if len(layer) > 140 {
		failed = append(failed, "Member must have length less than or equal to 140")
	}
	if !layerParamRE.MatchString(layer) {
		failed = append(failed, "Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+")
	}
	if failed != nil {
		return invalid("%s", constraint("layerName", layer, failed...))
	}
	return nil
}

// GetLayerVersion describes one layer version of the account.
func (s *Service) GetLayerVersion(ctx context.Context, account, layer string, version int) (LayerVersion, error) {
	if err := checkLayerName(layer); err != nil {
		return LayerVersion{}, err
	}
	lv, err := s.db.LayerVersion(ctx, account, layer, version)
	if err != nil {
		return LayerVersion{}, storeErr(err, "The resource you requested does not exist.")
	}
	return layerDoc(lv, true), nil
}

// GetLayerVersionByArn describes a layer version named by its ARN.
func (s *Service) GetLayerVersionByArn(ctx context.Context, account, arn string) (LayerVersion, error) {
	owner, name, v, err := parseLayerVersionARN(arn)
	if err != nil {
		return LayerVersion{}, err
	}
	if owner != account {
		return LayerVersion{}, accessDenied("User: arn:aws:iam::%s:root is not authorized to perform: lambda:GetLayerVersion on resource: %s", account, arn)
	}
	return s.GetLayerVersion(ctx, account, name, v)
}

// ListLayersOutput is ListLayers's answer.
type ListLayersOutput struct {
	Layers []LayersListItem `json:"Layers"`
}

// LayersListItem is one layer with its newest version.
type LayersListItem struct {
	LayerName             string       `json:"LayerName"`
	LayerArn              string       `json:"LayerArn"`
	LatestMatchingVersion LayerVersion `json:"LatestMatchingVersion"`
}

// ListLayers lists the account's layers with their newest versions.
func (s *Service) ListLayers(ctx context.Context, account string) (ListLayersOutput, error) {
	lvs, err := s.db.ListLayers(ctx, account)
	if err != nil {
		return ListLayersOutput{}, fmt.Errorf("list layers: %w", err)
	}
	out := ListLayersOutput{Layers: []LayersListItem{}}
	for _, lv := range lvs {
		out.Layers = append(out.Layers, LayersListItem{LayerName: lv.Layer, LayerArn: layerARN(account, lv.Layer), LatestMatchingVersion: layerDoc(lv, false)})
	}
	return out, nil
}

// ListLayerVersionsOutput is ListLayerVersions's answer.
type ListLayerVersionsOutput struct {
	LayerVersions []LayerVersion `json:"LayerVersions"`
}

// ListLayerVersions lists a layer's versions, newest first.
func (s *Service) ListLayerVersions(ctx context.Context, account, layer string) (ListLayerVersionsOutput, error) {
	if err := checkLayerName(layer); err != nil {
		return ListLayerVersionsOutput{}, err
	}
	lvs, err := s.db.ListLayerVersions(ctx, account, layer)
	if err != nil {
		return ListLayerVersionsOutput{}, fmt.Errorf("list versions of layer %s: %w", layer, err)
	}
	out := ListLayerVersionsOutput{LayerVersions: []LayerVersion{}}
	for _, lv := range lvs {
		out.LayerVersions = append(out.LayerVersions, layerDoc(lv, false))
	}
	return out, nil
}

// DeleteLayerVersion deletes a layer version; functions already using it
// keep it, and its number is never given out again.
func (s *Service) DeleteLayerVersion(ctx context.Context, account, layer string, version int) error {
	if err := checkLayerName(layer); err != nil {
		return err
	}
	if err := s.db.DeleteLayerVersion(ctx, account, layer, version); err != nil {
		return fmt.Errorf("delete layer %s version %d: %w", layer, version, err)
	}
	return nil
}

// resolveLayers turns a function's Layers list into pinned references.
// nil means the list was not given.
func (s *Service) resolveLayers(ctx context.Context, account string, arns *[]string) ([]layerRef, error) {
	if arns == nil {
		return nil, nil
	}
	if len(*arns) > 5 {
		return nil, invalid("Cannot reference more than 5 layers.")
	}
	refs := []layerRef{}
	seen := map[string]bool{}
	for _, arn := range *arns {
		owner, name, v, err := parseLayerVersionARN(arn)
		if err != nil {
			return nil, err
		}
		if seen[owner+":"+name] {
			return nil, invalid("Two different versions of the same layer are not allowed to be referenced in the same function. %s is referenced more than once.", layerARN(owner, name))
		}
		seen[owner+":"+name] = true
		if owner != account {
			return nil, accessDenied("User: arn:aws:iam::%s:root is not authorized to perform: lambda:GetLayerVersion on resource: %s", account, arn)
		}
		lv, err := s.db.LayerVersion(ctx, owner, name, v)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, invalid("Layer version %s does not exist.", arn)
			}
			return nil, fmt.Errorf("resolve layer %s: %w", arn, err)
		}
		refs = append(refs, layerRef{ARN: arn, CodeSha256: lv.CodeSha256, CodeSize: lv.CodeSize, UnzippedBytes: lv.UnzippedSize})
	}
	var total int64
	for _, r := range refs {
		total += r.UnzippedBytes
	}
	if total > codepkg.MaxUnzipped {
		return nil, invalid("Layers consume more than the available size of %d bytes", codepkg.MaxUnzipped)
	}
	return refs, nil
}
