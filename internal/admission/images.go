package admission

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// MaxContainers caps the containers, init containers, ephemeral
// containers and image volumes read from one object. Kubernetes sets no such limit, but real
// pods have a handful and the largest seen in the wild a few dozen; past
// this an object is an attempt to make one admission request fan out into
// hundreds of registry lookups.
const MaxContainers = 256

// Image is one image reference found in an object, with every place it
// occurs there.
type Image struct {
	// Ref is the reference exactly as the object writes it.
	Ref string
	// Paths are the JSON pointers (RFC 6901) of the fields that hold Ref,
	// e.g. "/spec/template/spec/initContainers/0/image", in document order.
	Paths []string
}

// podSpecPaths maps each supported kind, as "group/Kind" (core group
// empty), to the path of the pod spec inside the object.
var podSpecPaths = map[string][]string{
	"/Pod":                   {"spec"},
	"/ReplicationController": {"spec", "template", "spec"},
	"apps/Deployment":        {"spec", "template", "spec"},
	"apps/ReplicaSet":        {"spec", "template", "spec"},
	"apps/StatefulSet":       {"spec", "template", "spec"},
	"apps/DaemonSet":         {"spec", "template", "spec"},
	"batch/Job":              {"spec", "template", "spec"},
	"batch/CronJob":          {"spec", "jobTemplate", "spec", "template", "spec"},
}

// containerLists are the pod spec fields that hold containers, in the order
// their images are reported; image volumes come after them.
var containerLists = []string{"initContainers", "containers", "ephemeralContainers"}

// The pod spec's volumes, and the fields of an image volume (Kubernetes
// 1.31+, beta and on by default from 1.33): the kubelet pulls
// volumes[].image.reference like a container image and mounts its content,
// so it is verified and pinned like one.
const (
	volumesField        = "volumes"
	imageVolumeField    = "image"
	imageReferenceField = "reference"
)

// Supported reports whether Images reads objects of the given API group
// ("" for the core group) and kind.
func Supported(group, kind string) bool {
	_, ok := podSpecPaths[group+"/"+kind]
	return ok
}

// Images returns the distinct images of an object, in document order: a
// Pod (core group), a ReplicationController, an apps Deployment,
// ReplicaSet, StatefulSet or DaemonSet, or a batch Job or CronJob (its
// jobTemplate's pod template). It reads initContainers, containers,
// ephemeralContainers and image volumes (volumes[].image.reference). An
// image used by several containers or volumes is returned once, with every
// path.
//
// Only the fields on the way to the images are decoded, and field names are
// matched exactly (encoding/json would also accept "Image" for "image",
// which Kubernetes does not). Unknown fields are ignored; a field of the
// wrong JSON type is an error matching ErrMalformedObject. A kind it does
// not know is ErrUnsupportedKind; more than MaxContainers containers is
// ErrTooManyImages. An absent or null pod spec or container list has no
// images.
func Images(group, kind string, object []byte) ([]Image, error) {
	specPath, ok := podSpecPaths[group+"/"+kind]
	if !ok {
		return nil, fmt.Errorf("%w %q: hallmark reads Pods and the pod templates of ReplicationControllers, Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs", ErrUnsupportedKind, describeKind(group, kind))
	}
	node := json.RawMessage(object)
	if isNull(node) {
		return nil, fmt.Errorf("%w: empty object", ErrMalformedObject)
	}
	pointer := ""
	for _, key := range specPath {
		next, err := field(node, key, pointer)
		if err != nil {
			return nil, err
		}
		pointer += "/" + key
		if isNull(next) {
			return nil, nil
		}
		node = next
	}

	var images []Image
	index := map[string]int{}
	add := func(ref, pointer string) {
		if j, seen := index[ref]; seen {
			images[j].Paths = append(images[j].Paths, pointer)
			return
		}
		index[ref] = len(images)
		images = append(images, Image{Ref: ref, Paths: []string{pointer}})
	}
	count := 0
	for _, list := range containerLists {
		raw, err := field(node, list, pointer)
		if err != nil {
			return nil, err
		}
		if isNull(raw) {
			continue
		}
		listPointer := pointer + "/" + list
		var containers []json.RawMessage
		if err := json.Unmarshal(raw, &containers); err != nil {
			return nil, fmt.Errorf("%w: %s is not a list", ErrMalformedObject, listPointer)
		}
		count += len(containers)
		if count > MaxContainers {
			return nil, fmt.Errorf("%w: the object has more than %d containers", ErrTooManyImages, MaxContainers)
		}
		for i, c := range containers {
			at := listPointer + "/" + strconv.Itoa(i)
			if isNull(c) {
				return nil, fmt.Errorf("%w: %s is null", ErrMalformedObject, at)
			}
			rawImage, err := field(c, "image", at)
			if err != nil {
				return nil, err
			}
			// An absent or null image is kept as "": it is not verifiable,
			// so it fails verification rather than slipping through.
			ref, err := stringField(rawImage, at+"/image")
			if err != nil {
				return nil, err
			}
			add(ref, at+"/image")
		}
	}

	raw, err := field(node, volumesField, pointer)
	if err != nil {
		return nil, err
	}
	if isNull(raw) {
		return images, nil
	}
	volumesPointer := pointer + "/" + volumesField
	var volumes []json.RawMessage
	if err := json.Unmarshal(raw, &volumes); err != nil {
		return nil, fmt.Errorf("%w: %s is not a list", ErrMalformedObject, volumesPointer)
	}
	for i, v := range volumes {
		at := volumesPointer + "/" + strconv.Itoa(i)
		if isNull(v) {
			return nil, fmt.Errorf("%w: %s is null", ErrMalformedObject, at)
		}
		source, err := field(v, imageVolumeField, at)
		if err != nil {
			return nil, err
		}
		if isNull(source) {
			continue // another kind of volume
		}
		count++
		if count > MaxContainers {
			return nil, fmt.Errorf("%w: the object has more than %d containers and image volumes", ErrTooManyImages, MaxContainers)
		}
		sourcePointer := at + "/" + imageVolumeField
		rawRef, err := field(source, imageReferenceField, sourcePointer)
		if err != nil {
			return nil, err
		}
		// As for containers, an absent reference is kept as "" and fails.
		refPointer := sourcePointer + "/" + imageReferenceField
		ref, err := stringField(rawRef, refPointer)
		if err != nil {
			return nil, err
		}
		add(ref, refPointer)
	}
	return images, nil
}

// stringField decodes a JSON string; absent or null is "". at is its JSON
// pointer, for errors.
func stringField(raw json.RawMessage, at string) (string, error) {
	var s string
	if isNull(raw) {
		return s, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %s is not a string", ErrMalformedObject, at)
	}
	return s, nil
}

// field returns the value of key in the JSON object obj, or nil when absent.
// Keys are compared exactly. at is obj's JSON pointer, for errors.
func field(obj json.RawMessage, key, at string) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		where := at
		if where == "" {
			where = "the object"
		}
		return nil, fmt.Errorf("%w: %s is not a JSON object", ErrMalformedObject, where)
	}
	return m[key], nil
}

func isNull(raw json.RawMessage) bool {
	trimmed := bytes.TrimSpace(raw)
	return len(trimmed) == 0 || string(trimmed) == "null"
}

// describeKind names a kind for messages: "apps/Deployment", "Pod".
func describeKind(group, kind string) string {
	if group == "" {
		return kind
	}
	return group + "/" + kind
}
