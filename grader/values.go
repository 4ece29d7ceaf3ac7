package grader

import (
	"context"
	"fmt"
	"reflect"

	"lambdalab/labs"
)

// Expand replaces the ${…} values of s (labs/FORMAT.md) with this run's.
func (e *Env) Expand(ctx context.Context, s string) (string, error) {
	return labs.Expand(s, func(kind, name, qualifier string) (string, error) {
		switch kind {
		case "account":
			return e.Account, nil
		case "region":
			return e.Region, nil
		case "lambda":
			return e.FunctionARN(name, qualifier), nil
		case "s3":
			return "arn:aws:s3:::" + name, nil
		case "layer":
			return e.LayerARN(ctx, name)
		}
		return "", fmt.Errorf("unknown value kind %q", kind)
	})
}

// FunctionARN is the ARN of a function of the scratch account, qualified
// when qualifier is not empty.
func (e *Env) FunctionARN(name, qualifier string) string {
	arn := "arn:aws:lambda:" + e.Region + ":" + e.Account + ":function:" + name
	if qualifier != "" {
		arn += ":" + qualifier
	}
	return arn
}

// LayerARN is the ARN of the newest version of the account's layer.
func (e *Env) LayerARN(ctx context.Context, layer string) (string, error) {
	out, err := e.Lambda.ListLayerVersions(ctx, e.Account, layer)
	if err != nil {
		return "", err
	}
	if len(out.LayerVersions) == 0 {
		return "", Failf("the account has no layer named %s", layer)
	}
	return out.LayerVersions[0].LayerVersionArn, nil
}

// expandArgs returns a copy of a step's arguments with every string in it
// (fields, slices, map keys and values, payload trees) expanded. Args are
// pointers to structs as labs decoded them; the original is left as it is
// because a check may run again in a later grading.
func (e *Env) expandArgs(ctx context.Context, args any) (any, error) {
	if args == nil {
		return nil, nil
	}
	v, err := e.expandValue(ctx, reflect.ValueOf(args))
	if err != nil {
		return nil, err
	}
	return v.Interface(), nil
}

func (e *Env) expandValue(ctx context.Context, v reflect.Value) (reflect.Value, error) {
	switch v.Kind() {
	case reflect.String:
		s, err := e.Expand(ctx, v.String())
		if err != nil {
			return v, err
		}
		out := reflect.New(v.Type()).Elem()
		out.SetString(s)
		return out, nil
	case reflect.Pointer:
		if v.IsNil() {
			return v, nil
		}
		elem, err := e.expandValue(ctx, v.Elem())
		if err != nil {
			return v, err
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(elem)
		return out, nil
	case reflect.Interface:
		if v.IsNil() {
			return v, nil
		}
		inner, err := e.expandValue(ctx, v.Elem())
		if err != nil {
			return v, err
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(inner)
		return out, nil
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := range v.NumField() {
			if !out.Field(i).CanSet() {
				continue
			}
			f, err := e.expandValue(ctx, v.Field(i))
			if err != nil {
				return v, err
			}
			out.Field(i).Set(f)
		}
		return out, nil
	case reflect.Slice:
		if v.IsNil() {
			return v, nil
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			el, err := e.expandValue(ctx, v.Index(i))
			if err != nil {
				return v, err
			}
			out.Index(i).Set(el)
		}
		return out, nil
	case reflect.Map:
		if v.IsNil() {
			return v, nil
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		iter := v.MapRange()
		for iter.Next() {
			k, err := e.expandValue(ctx, iter.Key())
			if err != nil {
				return v, err
			}
			val, err := e.expandValue(ctx, iter.Value())
			if err != nil {
				return v, err
			}
			out.SetMapIndex(k, val)
		}
		return out, nil
	}
	return v, nil
}
