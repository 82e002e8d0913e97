package integration

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gantryops/gantry/integration/harness"
)

func TestControlPlaneVersionAndKubeconfig(t *testing.T) {
	t.Parallel()
	v, err := env.Clientset(t).Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != "v1.37.2" {
		t.Errorf("server version %q, want v1.37.2 (binaries not version-stamped?)", v.GitVersion)
	}
	// The kubeconfig file works for other clients: kubectl reads it.
	out, err := exec.Command("kubectl", "--kubeconfig", env.Cluster.Kubeconfig, "get", "namespace", "default", "-o", "name").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "namespace/default" {
		t.Errorf("kubectl with the kubeconfig: %v: %s", err, out)
	}
}

func TestControlPlaneViewerIsForbidden(t *testing.T) {
	t.Parallel()
	cs, err := kubernetes.NewForConfig(env.Cluster.ViewerConfig)
	if err != nil {
		t.Fatal(err)
	}
	// Create: other tests grant the viewer read access, never write access.
	_, err = cs.CoreV1().ConfigMaps("default").Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "viewer-"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("viewer without RBAC: err = %v, want Forbidden", err)
	}
}

func TestControlPlaneDeletesNamespaces(t *testing.T) {
	t.Parallel()
	cs := env.Clientset(t)
	ctx := context.Background()
	ns := env.Namespace(t)
	_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "content"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The namespace controller must empty the namespace and remove its
	// finalizer; without a controller manager it stays Terminating forever.
	harness.Eventually(t, 60*time.Second, "namespace "+ns+" is gone", harness.Gone(func(ctx context.Context) error {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return err
	}))
}

func TestControlPlaneCollectsGarbage(t *testing.T) {
	t.Parallel()
	cs := env.Clientset(t)
	ctx := context.Background()
	ns := env.Namespace(t)
	owner, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Name: "owned",
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID,
		}},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	background := metav1.DeletePropagationBackground
	if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, "owner", metav1.DeleteOptions{PropagationPolicy: &background}); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 60*time.Second, "owned Secret is garbage-collected", harness.Gone(func(ctx context.Context) error {
		_, err := cs.CoreV1().Secrets(ns).Get(ctx, "owned", metav1.GetOptions{})
		return err
	}))
}

func TestControlPlaneRunsWorkloadControllers(t *testing.T) {
	t.Parallel()
	cs := env.Clientset(t)
	ctx := context.Background()
	ns := env.Namespace(t)
	labels := map[string]string{"app": "web"}
	replicas := int32(2)
	_, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 60*time.Second, "Deployment gets a ReplicaSet and Pods", func(ctx context.Context) error {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		if len(pods.Items) != 2 {
			return fmt.Errorf("%d pods, want 2", len(pods.Items))
		}
		return nil
	})
}
