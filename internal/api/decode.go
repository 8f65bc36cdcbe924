package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// maxBody caps request bodies.
const maxBody = 1 << 20

// decode reads a JSON body into v, a pointer to a struct: the content type
// must be JSON in UTF-8, the body at most maxBody and exactly one object,
// whose member names are v's field names as written (case included), each
// at most once, in valid UTF-8 and with nothing after the object.
//
// encoding/json/v2's semantics (here its published prototype,
// github.com/go-json-experiment/json) give these refusals; encoding/json
// accepts duplicate names (the last wins) and matches names in any case.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return apiError(http.StatusUnsupportedMediaType, "E0000001", "Api validation failed",
				fmt.Sprintf("Content-Type %q is not supported; send application/json", ct))
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return apiError(http.StatusUnsupportedMediaType, "E0000001", "Api validation failed",
				fmt.Sprintf("Content-Type charset %q is not supported; send the body in UTF-8", cs))
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return errValidation(fmt.Sprintf("the body is larger than %d bytes", maxBody))
	case err != nil:
		return errValidation("reading the body: " + err.Error())
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return errValidation("the body is empty; send a JSON object")
	case trimmed[0] != '{':
		return errValidation(fmt.Sprintf("the body must be a JSON object, got JSON %s", jsontext.Value(trimmed).Kind()))
	}
	if err := json.Unmarshal(body, v, json.RejectUnknownMembers(true)); err != nil {
		return errValidation(describeJSONError(err, v))
	}
	return nil
}

// describeJSONError says what is wrong with the body, naming the field.
func describeJSONError(err error, v any) string {
	var se *jsontext.SyntacticError
	var me *json.SemanticError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON body is truncated"
	case errors.As(err, &se) && errors.Is(se.Err, jsontext.ErrDuplicateName):
		return fmt.Sprintf("field %q appears more than once; give each field once", se.JSONPointer.LastToken())
	case errors.As(err, &se) && strings.Contains(se.Err.Error(), "invalid UTF-8"):
		return fmt.Sprintf("field %q holds invalid UTF-8; send the body in UTF-8", fieldAt(se.JSONPointer))
	case errors.As(err, &se) && strings.Contains(se.Err.Error(), "after top-level value"):
		return "the body must hold one JSON object and nothing after it"
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d: %v", se.ByteOffset, se.Err)
	case errors.As(err, &me) && errors.Is(me.Err, json.ErrUnknownName):
		name := me.JSONPointer.LastToken()
		if want := fieldFolding(v, name); want != "" {
			return fmt.Sprintf("unknown field %q: field names are case-sensitive; did you mean %q?", name, want)
		}
		return fmt.Sprintf("unknown field %q", name)
	case errors.As(err, &me) && me.GoType != nil:
		return fmt.Sprintf("%s: expected %s, got JSON %s", fieldAt(me.JSONPointer), kindOf(me.GoType), me.JSONKind)
	}
	return "malformed JSON: " + err.Error()
}

// fieldAt names the field a JSON pointer points into ("/a/b" → "a.b").
func fieldAt(p jsontext.Pointer) string {
	var parts []string
	for tok := range p.Tokens() {
		parts = append(parts, tok)
	}
	if len(parts) == 0 {
		return "body"
	}
	return strings.Join(parts, ".")
}

func kindOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64, reflect.Uint, reflect.Uint64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return "object"
}

// fieldFolding is v's JSON field name that equals name but for case, or "".
func fieldFolding(v any, name string) string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return ""
	}
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if tag != "" && tag != "-" && strings.EqualFold(tag, name) {
			return tag
		}
	}
	return ""
}
