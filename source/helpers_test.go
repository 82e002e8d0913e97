package source_test

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func unstructuredString(u *unstructured.Unstructured, fields ...string) (string, bool, error) {
	return unstructured.NestedString(u.Object, fields...)
}
