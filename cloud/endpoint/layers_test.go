package endpoint_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func (a *account) publishLayer(t testing.TB, name string, files map[string]string) (*lambda.PublishLayerVersionOutput, []byte) {
	t.Helper()
	z := zipOf(t, files)
	out, err := a.c.PublishLayerVersion(context.Background(), &lambda.PublishLayerVersionInput{LayerName: aws.String(name),
		Content: &types.LayerVersionContentInput{ZipFile: z}, CompatibleRuntimes: []types.Runtime{types.RuntimePython313},
		CompatibleArchitectures: []types.Architecture{types.ArchitectureX8664}, Description: aws.String(name + " layer")})
	if err != nil {
		t.Fatalf("PublishLayerVersion %s: %v", name, err)
	}
	return out, z
}

// layeredHandler imports one module from each layer and reads a file both
// layers hold.
const layeredHandler = `import mylib, otherlib
def handler(event, context):
    with open("/opt/shared.txt") as f:
        shared = f.read()
    return {"mylib": mylib.hello(), "otherlib": otherlib.hello(), "shared": shared}
`

func TestLayers(t *testing.T) {
	w := shared(t)
	t.Parallel()
	a := w.newAccount(t)
	ctx := context.Background()
	one, oneZip := a.publishLayer(t, "libone", map[string]string{
		"python/mylib.py": "def hello():\n    return 'mylib v1'\n", "shared.txt": "from libone"})
	layerARN := "arn:aws:lambda:us-east-1:" + a.id + ":layer:libone"
	if aws.ToString(one.LayerArn) != layerARN || aws.ToString(one.LayerVersionArn) != layerARN+":1" || one.Version != 1 {
		t.Errorf("PublishLayerVersion = arn %s version arn %s version %d", aws.ToString(one.LayerArn), aws.ToString(one.LayerVersionArn), one.Version)
	}
	if one.Content == nil || aws.ToString(one.Content.CodeSha256) != sha256b64(oneZip) || one.Content.CodeSize != int64(len(oneZip)) {
		t.Fatalf("PublishLayerVersion Content = %+v, want sha %s size %d", one.Content, sha256b64(oneZip), len(oneZip))
	}
	if one.CompatibleRuntimes[0] != types.RuntimePython313 || aws.ToString(one.Description) != "libone layer" || aws.ToString(one.CreatedDate) == "" {
		t.Errorf("PublishLayerVersion = runtimes %v description %q created %q", one.CompatibleRuntimes, aws.ToString(one.Description), aws.ToString(one.CreatedDate))
	}
	resp, err := http.Get(aws.ToString(one.Content.Location))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(body, oneZip) {
		t.Errorf("layer Content.Location gave HTTP %d, %d bytes; want the %d bytes published", resp.StatusCode, len(body), len(oneZip))
	}
	two, _ := a.publishLayer(t, "libtwo", map[string]string{
		"python/otherlib.py": "def hello():\n    return 'otherlib'\n", "shared.txt": "from libtwo"})

	got, err := a.c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("libone"), VersionNumber: aws.Int64(1)})
	if err != nil || aws.ToString(got.LayerVersionArn) != layerARN+":1" || aws.ToString(got.Content.CodeSha256) != sha256b64(oneZip) {
		t.Errorf("GetLayerVersion = %+v, %v", got, err)
	}
	byArn, err := a.c.GetLayerVersionByArn(ctx, &lambda.GetLayerVersionByArnInput{Arn: one.LayerVersionArn})
	if err != nil || aws.ToString(byArn.LayerVersionArn) != layerARN+":1" || byArn.Version != 1 || aws.ToString(byArn.Content.CodeSha256) != sha256b64(oneZip) {
		t.Errorf("GetLayerVersionByArn = %+v, %v", byArn, err)
	}
	_, err = a.c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("libone"), VersionNumber: aws.Int64(7)})
	apiError(t, err, "ResourceNotFoundException", 404)

	// Two layers in order: modules from both, and the later layer's copy of a file both hold.
	a.createPy(t, "layered", layeredHandler, func(in *lambda.CreateFunctionInput) {
		in.Layers = []string{aws.ToString(one.LayerVersionArn), aws.ToString(two.LayerVersionArn)}
	})
	cfg, err := a.c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("layered")})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Layers) != 2 || aws.ToString(cfg.Layers[0].Arn) != aws.ToString(one.LayerVersionArn) || cfg.Layers[0].CodeSize != int64(len(oneZip)) {
		t.Errorf("function Layers = %+v", cfg.Layers)
	}
	v := a.call(t, "layered", `{}`)
	if v["mylib"] != "mylib v1" || v["otherlib"] != "otherlib" || v["shared"] != "from libtwo" {
		t.Errorf("layered handler = %v, want mylib v1, otherlib and shared.txt from libtwo (the later layer)", v)
	}
	// Reversed order, the other copy wins.
	if _, err := a.c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("layered"),
		Layers: []string{aws.ToString(two.LayerVersionArn), aws.ToString(one.LayerVersionArn)}}); err != nil {
		t.Fatalf("UpdateFunctionConfiguration Layers: %v", err)
	}
	if v := a.call(t, "layered", `{}`); v["shared"] != "from libone" {
		t.Errorf("with the layers swapped shared.txt came %v, want from libone", v["shared"])
	}

	// Versions, lists, deletion.
	one2, _ := a.publishLayer(t, "libone", map[string]string{"python/mylib.py": "def hello():\n    return 'mylib v2'\n"})
	if one2.Version != 2 {
		t.Errorf("second PublishLayerVersion of libone = version %d, want 2", one2.Version)
	}
	layers, err := a.c.ListLayers(ctx, &lambda.ListLayersInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range layers.Layers {
		names = append(names, fmt.Sprintf("%s:%d", aws.ToString(l.LayerName), l.LatestMatchingVersion.Version))
	}
	if !slices.Equal(names, []string{"libone:2", "libtwo:1"}) {
		t.Errorf("ListLayers = %v, want [libone:2 libtwo:1]", names)
	}
	lv, err := a.c.ListLayerVersions(ctx, &lambda.ListLayerVersionsInput{LayerName: aws.String("libone")})
	if err != nil {
		t.Fatal(err)
	}
	var versions []int64
	for _, v := range lv.LayerVersions {
		versions = append(versions, v.Version)
	}
	if !slices.Equal(versions, []int64{2, 1}) {
		t.Errorf("ListLayerVersions(libone) = %v, want [2 1]", versions)
	}
	if _, err := a.c.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{LayerName: aws.String("libone"), VersionNumber: aws.Int64(2)}); err != nil {
		t.Fatalf("DeleteLayerVersion 2: %v", err)
	}
	one3, _ := a.publishLayer(t, "libone", map[string]string{"python/mylib.py": "def hello():\n    return 'mylib v3'\n"})
	if one3.Version != 3 {
		t.Errorf("publishing after deleting version 2 gave version %d, want 3 (numbers are never reused)", one3.Version)
	}
	if _, err := a.c.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{LayerName: aws.String("libone"), VersionNumber: aws.Int64(1)}); err != nil {
		t.Fatalf("DeleteLayerVersion 1: %v", err)
	}
	_, err = a.c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("libone"), VersionNumber: aws.Int64(1)})
	apiError(t, err, "ResourceNotFoundException", 404)
	// A function that already uses the deleted version keeps it, even in a
	// new environment (a configuration change forces a cold start).
	if _, err := a.c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("layered"),
		Environment: &types.Environment{Variables: map[string]string{"FORCE": "cold"}}}); err != nil {
		t.Fatal(err)
	}
	if v := a.call(t, "layered", `{}`); v["mylib"] != "mylib v1" {
		t.Errorf("after DeleteLayerVersion 1 the function using it got mylib %v, want mylib v1", v["mylib"])
	}
	// …but nobody can attach it any more.
	_, err = a.c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("late"), Runtime: types.RuntimePython313,
		Handler: aws.String("app.handler"), Role: a.role(), Code: &types.FunctionCode{ZipFile: pyZip(t, layeredHandler)},
		Layers: []string{aws.ToString(one.LayerVersionArn)}})
	apiError(t, err, "InvalidParameterValueException", 400)

	// At most five layers.
	var six []string
	for i := range 6 {
		out, _ := a.publishLayer(t, fmt.Sprintf("many%d", i), map[string]string{fmt.Sprintf("f%d.txt", i): "x"})
		six = append(six, aws.ToString(out.LayerVersionArn))
	}
	_, err = a.c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("layered"), Layers: six})
	apiError(t, err, "InvalidParameterValueException", 400)
	_, err = a.c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("six"), Runtime: types.RuntimePython313,
		Handler: aws.String("app.handler"), Role: a.role(), Code: &types.FunctionCode{ZipFile: pyZip(t, layeredHandler)}, Layers: six})
	apiError(t, err, "InvalidParameterValueException", 400)
	if _, err := a.c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("layered"), Layers: six[:5]}); err != nil {
		t.Errorf("five layers refused: %v", err)
	}
}

func TestNodeLayer(t *testing.T) {
	w := shared(t)
	t.Parallel()
	a := w.newAccount(t)
	ctx := context.Background()
	layer, _ := a.publishLayer(t, "nodelib", map[string]string{
		"nodejs/node_modules/greet/index.js": "module.exports = (n) => 'hello ' + n + ' from the layer';\n"})
	code := zipOf(t, map[string]string{"index.js": `const greet = require("greet");
exports.handler = async (event, context) => ({ greeting: greet(event.name), version: context.functionVersion });
`})
	if _, err := a.c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("node"), Runtime: types.RuntimeNodejs20x,
		Handler: aws.String("index.handler"), Role: a.role(), Code: &types.FunctionCode{ZipFile: code}, Timeout: aws.Int32(10),
		Layers: []string{aws.ToString(layer.LayerVersionArn)}}); err != nil {
		t.Fatalf("CreateFunction nodejs20.x: %v", err)
	}
	v := a.call(t, "node", `{"name": "ada"}`)
	if v["greeting"] != "hello ada from the layer" || v["version"] != "$LATEST" {
		b, _ := json.Marshal(v)
		t.Errorf("Node.js handler with a layer returned %s", b)
	}
	if !strings.HasPrefix(aws.ToString(layer.LayerVersionArn), "arn:aws:lambda:us-east-1:"+a.id+":layer:nodelib:") {
		t.Errorf("layer ARN %s", aws.ToString(layer.LayerVersionArn))
	}
}
