//! One generated Kubernetes object, typed.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, PodSpec, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::Resource;

use super::KubeError;

/// Every kind `bridge convert` emits.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub enum Object {
    Namespace(k8s_openapi::api::core::v1::Namespace),
    ServiceAccount(ServiceAccount),
    Role(Role),
    RoleBinding(RoleBinding),
    ConfigMap(ConfigMap),
    Secret(Secret),
    Pvc(PersistentVolumeClaim),
    Deployment(Deployment),
    DaemonSet(DaemonSet),
    Job(Job),
    Service(Service),
    NetworkPolicy(NetworkPolicy),
}

macro_rules! each {
    ($self:ident, $o:ident => $e:expr) => {
        match $self {
            Object::Namespace($o) => $e,
            Object::ServiceAccount($o) => $e,
            Object::Role($o) => $e,
            Object::RoleBinding($o) => $e,
            Object::ConfigMap($o) => $e,
            Object::Secret($o) => $e,
            Object::Pvc($o) => $e,
            Object::Deployment($o) => $e,
            Object::DaemonSet($o) => $e,
            Object::Job($o) => $e,
            Object::Service($o) => $e,
            Object::NetworkPolicy($o) => $e,
        }
    };
}

fn kind_of<T: Resource>(_: &T) -> &'static str {
    T::KIND
}

impl Object {
    /// The object's `kind`.
    pub fn kind(&self) -> &'static str {
        each!(self, o => kind_of(o))
    }

    /// The object's metadata.
    pub fn meta(&self) -> &ObjectMeta {
        each!(self, o => &o.metadata)
    }

    /// The object's name.
    pub fn name(&self) -> String {
        self.meta().name.clone().unwrap_or_default()
    }

    /// Output order: what others refer to first, as `kubectl apply` likes it.
    pub fn order(&self) -> u8 {
        match self {
            Object::Namespace(_) => 0,
            Object::ServiceAccount(_) => 1,
            Object::Role(_) => 2,
            Object::RoleBinding(_) => 3,
            Object::ConfigMap(_) => 4,
            Object::Secret(_) => 5,
            Object::Pvc(_) => 6,
            Object::Service(_) => 7,
            Object::Deployment(_) => 8,
            Object::DaemonSet(_) => 9,
            Object::Job(_) => 10,
            Object::NetworkPolicy(_) => 11,
        }
    }

    /// The pod template's spec, for workloads.
    pub fn pod_spec(&self) -> Option<&PodSpec> {
        match self {
            Object::Deployment(d) => d.spec.as_ref()?.template.spec.as_ref(),
            Object::DaemonSet(d) => d.spec.as_ref()?.template.spec.as_ref(),
            Object::Job(j) => j.spec.as_ref()?.template.spec.as_ref(),
            _ => None,
        }
    }

    /// The file it is written to: `<name>-<kind>.yaml`.
    pub fn file_name(&self) -> String {
        format!("{}-{}.yaml", self.name(), self.kind().to_ascii_lowercase())
    }

    /// The object as YAML (apiVersion and kind included by k8s-openapi).
    pub fn to_yaml(&self) -> Result<String, KubeError> {
        let r = each!(self, o => serde_yaml_ng::to_string(o));
        r.map_err(|e| KubeError::Render(format!("{} {}", self.kind(), self.name()), e.to_string()))
    }
}
