package graph

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// exactEnums rejects an enum value in a variable that the schema spells
// otherwise, e.g. "desc" for DESC. gqlparser checks the enum values of
// variables ignoring case (validator/vars.go: strings.EqualFold), while
// the enum values written in a document must match exactly; past that
// check, a storage enum took the value as given ("failed" matched no item:
// an empty answer, no error) and a generated enum (graph/model) refused it
// at execution (an internal error; FuzzQueryHandler found
// {"field":"ITEM_KeY"} of an orderBy variable). Such a value is rejected
// here as gqlparser rejects one of no spelling: GRAPHQL_VALIDATION_FAILED,
// "<value> is not a valid <Enum>", at the path variable.<name>…, before
// anything runs.
//
// The work is a lookup per variable of the operation; only variables whose
// type can hold an enum are walked.
type exactEnums struct {
	schema *ast.Schema
	// hold are the input types a value of which can hold an enum value:
	// the enums and the input objects with a field of such a type.
	hold map[string]bool
}

func newExactEnums(schema *ast.Schema) exactEnums {
	hold := map[string]bool{}
	for name, def := range schema.Types {
		if def.Kind == ast.Enum {
			hold[name] = true
		}
	}
	for grew := true; grew; { // input objects, nested ones and cycles too
		grew = false
		for name, def := range schema.Types {
			if def.Kind != ast.InputObject || hold[name] {
				continue
			}
			if slices.ContainsFunc(def.Fields, func(f *ast.FieldDefinition) bool { return hold[f.Type.Name()] }) {
				hold[name], grew = true, true
			}
		}
	}
	return exactEnums{schema: schema, hold: hold}
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = exactEnums{}

func (exactEnums) ExtensionName() string                   { return "ExactEnums" }
func (exactEnums) Validate(graphql.ExecutableSchema) error { return nil }

func (x exactEnums) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	for _, vd := range oc.Operation.VariableDefinitions {
		if !x.hold[vd.Type.Name()] {
			continue
		}
		if m := x.check(vd.Type, oc.Variables[vd.Variable]); m != nil {
			path := append(m.path, ast.PathName(vd.Variable), ast.PathName("variable"))
			slices.Reverse(path)
			return &gqlerror.Error{Message: fmt.Sprintf("%s is not a valid %s", m.value, m.enum), Path: path,
				Extensions: map[string]any{"code": CodeValidationFailed}}
		}
	}
	return nil
}

// enumMiss is a value not spelled as its enum's: path leads to it from
// the variable, innermost element first.
type enumMiss struct {
	value, enum string
	path        ast.Path
}

// check finds an enum value in v, a coerced variable value of type t, that
// is not exactly one of its enum's values.
func (x exactEnums) check(t *ast.Type, v any) *enumMiss {
	if v == nil || !x.hold[t.Name()] {
		return nil
	}
	if t.Elem != nil {
		return x.checkList(t.Elem, v)
	}
	def := x.schema.Types[t.NamedType]
	switch def.Kind {
	case ast.Enum:
		if s, ok := v.(string); ok && def.EnumValues.ForName(s) == nil {
			return &enumMiss{value: s, enum: def.Name}
		}
	case ast.InputObject:
		fields, _ := v.(map[string]any)
		for _, f := range def.Fields {
			if m := x.check(f.Type, fields[f.Name]); m != nil {
				m.path = append(m.path, ast.PathName(f.Name))
				return m
			}
		}
	}
	return nil
}

// checkList checks the elements of a list value (gqlparser makes a single
// value a list of one, of the value's own type).
func (x exactEnums) checkList(elem *ast.Type, v any) *enumMiss {
	if vs, ok := v.([]any); ok {
		for i, e := range vs {
			if m := x.check(elem, e); m != nil {
				m.path = append(m.path, ast.PathIndex(i))
				return m
			}
		}
		return nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return x.check(elem, v)
	}
	for i := range rv.Len() {
		if m := x.check(elem, rv.Index(i).Interface()); m != nil {
			m.path = append(m.path, ast.PathIndex(i))
			return m
		}
	}
	return nil
}
