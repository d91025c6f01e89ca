//! Request bodies → stored documents: every rule a body must satisfy, checked against the CSDL.
//!
//! The output is canonical: property names as the schema spells them, enum members and reference codes in
//! their canonical case, times in UTC, `@odata.type` kept only where the declared type is polymorphic, and
//! navigation binds reduced to `{nav}@odata.bind: "{id}"`. Input-only annotations (`@odata.context`, ...) and
//! computed properties are dropped. A body is checked whole before anything is stored, so a bad field never
//! leaves half a change behind.

use serde_json::{Map, Value};

use crate::bind;
use crate::error::{DomainError, Result};
use crate::reference::{self, Catalog, CodeProblem};
use crate::schema::{schema, ElemType, PropDef, TypeDef};
use crate::sets::{EntitySet, MAX_LENGTHS};
use crate::time;

const REFERENCE_VALUE: &str = "microsoft.graph.industryData.referenceValue";
const BIND_SUFFIX: &str = "@odata.bind";
const TYPE_ANNOTATION: &str = "@odata.type";
const VALUE_BIND: &str = "value@odata.bind";

/// Create a new entity, or update (PATCH) an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode<'a> {
    Create,
    /// PATCH of the entity with this id and stored type.
    Update {
        id: &'a str,
        stored_type: &'a str,
    },
}

/// An entity that a body binds to: it must exist in the tenant when the change is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// Where the bind appeared, e.g. `creationOptions/configurations/0/roleGroup`.
    pub path: String,
    pub set: &'static EntitySet,
    pub id: String,
}

/// A checked body.
#[derive(Debug, Clone)]
pub struct Checked {
    pub ty: &'static TypeDef,
    /// Canonical properties given (for Update: only those present in the body).
    pub props: Map<String, Value>,
    pub bindings: Vec<Binding>,
}

/// Check a POST or PATCH body for an item of `set`. The body is consumed: its strings move into the checked
/// document instead of being copied.
pub fn check_entity(set: &EntitySet, body: Value, mode: Mode<'_>, catalog: &Catalog) -> Result<Checked> {
    let Value::Object(body) = body else {
        return Err(DomainError::bad_request("The request body must be a JSON object."));
    };
    let ty = entity_type(set, &body, mode)?;
    let mut checker = Checker { catalog, bindings: Vec::new() };
    let mut props = Map::new();
    for (key, value) in body {
        if key.eq_ignore_ascii_case("id") {
            if let Mode::Update { id, .. } = mode {
                if value.as_str() != Some(id) {
                    return Err(DomainError::invalid("id", "the id of an existing entity can't be changed"));
                }
            }
            continue;
        }
        checker.member(ty, key, value, &Path::Root, &mut props, matches!(mode, Mode::Update { .. }))?;
    }
    if mode == Mode::Create {
        checker.require(ty, &mut props, &Path::Root, false)?;
    }
    for (name, max) in MAX_LENGTHS {
        if let Some(Value::String(s)) = props.get(*name) {
            if s.chars().count() > *max {
                return Err(DomainError::invalid(name, format_args!("must be at most {max} characters long")));
            }
        }
    }
    Ok(Checked { ty, props, bindings: checker.bindings })
}

/// The concrete type a body is for: its `@odata.type`, checked against the set and the stored type.
fn entity_type(set: &EntitySet, body: &Map<String, Value>, mode: Mode<'_>) -> Result<&'static TypeDef> {
    let s = schema();
    let base = set.item_type_name();
    let named = match annotation(body, TYPE_ANNOTATION) {
        Some(Value::String(t)) => {
            let ty = s
                .ty_from_annotation(t)
                .ok_or_else(|| DomainError::invalid(TYPE_ANNOTATION, format_args!("'{t}' is not a known type")))?;
            if !s.derives_from(&ty.name, &base) {
                return Err(DomainError::invalid(
                    TYPE_ANNOTATION,
                    format_args!("'{t}' is not a type of the {} collection", set.name),
                ));
            }
            Some(ty)
        }
        Some(_) => return Err(DomainError::invalid(TYPE_ANNOTATION, "must be a string")),
        None => None,
    };
    match mode {
        Mode::Update { stored_type, .. } => {
            let stored = s.ty(stored_type).expect("stored types are schema types");
            match named {
                // A PATCH may name the stored type or one of its bases (the inboundFlow docs PATCH with
                // `#...inboundFlow`), never another concrete type.
                Some(t) if !s.derives_from(&stored.name, &t.name) => Err(DomainError::invalid(
                    TYPE_ANNOTATION,
                    format_args!(
                        "the entity is a '{}'; a PATCH can't change it to '{}'",
                        stored.odata_type(),
                        t.odata_type()
                    ),
                )),
                _ => Ok(stored),
            }
        }
        Mode::Create => {
            let ty = named.unwrap_or_else(|| s.ty(&base).expect("set types exist"));
            if ty.is_abstract {
                return Err(DomainError::invalid(TYPE_ANNOTATION, must_choose(ty)));
            }
            Ok(ty)
        }
    }
}

fn must_choose(ty: &TypeDef) -> String {
    let choices: Vec<String> = schema().concrete_types_of(&ty.name).iter().map(|t| t.odata_type()).collect();
    format!("'{}' is abstract; name one of: {}", ty.odata_type(), choices.join(", "))
}

fn annotation<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// Where a value sits in the body (`configuration/enrollmentMappings/0/code`), kept as a chain of borrowed
/// segments and spelled out only when an error names it: a valid body never pays for building its paths.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Member(&'a Path<'a>, &'a str),
    Item(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    fn member(&'a self, name: &'a str) -> Path<'a> {
        Path::Member(self, name)
    }

    fn item(&'a self, index: usize) -> Path<'a> {
        Path::Item(self, index)
    }
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (parent, segment): (&Path, &dyn std::fmt::Display) = match self {
            Path::Root => return Ok(()),
            Path::Member(parent, name) => (parent, name),
            Path::Item(parent, index) => (parent, index),
        };
        if matches!(parent, Path::Root) {
            write!(f, "{segment}")
        } else {
            write!(f, "{parent}/{segment}")
        }
    }
}

/// A 400 naming the value at `path`.
fn invalid(path: &Path, message: impl std::fmt::Display) -> DomainError {
    DomainError::invalid(&path.to_string(), message)
}

struct Checker<'a> {
    catalog: &'a Catalog,
    bindings: Vec<Binding>,
}

impl Checker<'_> {
    /// One `key: value` member of an object of type `ty`, written canonically into `out`.
    fn member(
        &mut self,
        ty: &TypeDef,
        key: String,
        value: Value,
        prefix: &Path,
        out: &mut Map<String, Value>,
        updating: bool,
    ) -> Result<()> {
        if let Some(nav) = key.strip_suffix(BIND_SUFFIX) {
            let path = prefix.member(nav);
            let prop = ty.prop(nav).filter(|p| p.navigation && !p.collection).ok_or_else(|| {
                invalid(&path, format_args!("'{nav}' is not a navigation property of '{}'", ty.short_name()))
            })?;
            let binding = self.bind(prop, &value, &path)?;
            out.insert(format!("{}{BIND_SUFFIX}", prop.name), Value::String(binding.id.clone()));
            self.bindings.push(binding);
            return Ok(());
        }
        if key.starts_with('@') || key.contains("@odata.") {
            return Ok(()); // instance annotations (`@odata.context`, ...) carry no data
        }
        let path = prefix.member(&key);
        let prop = ty
            .prop(&key)
            .ok_or_else(|| invalid(&path, format_args!("the property does not exist on type '{}'", ty.odata_type())))?;
        if prop.navigation {
            return Err(invalid(&path, format_args!("set it with '{}{BIND_SUFFIX}'", prop.name)));
        }
        if prop.computed || prop.name == "id" {
            return Ok(()); // server-set; a client echoing it back changes nothing
        }
        if updating && prop.immutable {
            return Err(invalid(&path, "the property can't be changed after creation"));
        }
        let value = self.value(prop, value, &path)?;
        out.insert(if key == prop.name { key } else { prop.name.clone() }, value);
        Ok(())
    }

    /// Missing properties of a created object: required ones fail, non-nullable booleans and collections
    /// take their natural empty value.
    fn require(&self, ty: &TypeDef, out: &mut Map<String, Value>, prefix: &Path, nested: bool) -> Result<()> {
        for p in &ty.props {
            if p.nullable || p.computed || p.has_default || p.name == "id" {
                continue;
            }
            let present = if p.navigation {
                out.contains_key(&format!("{}{BIND_SUFFIX}", p.name))
            } else {
                out.contains_key(&p.name)
            };
            if present {
                continue;
            }
            let path = prefix.member(&p.name);
            match (&p.elem, p.collection) {
                (_, true) if nested => {
                    out.insert(p.name.clone(), Value::Array(Vec::new()));
                }
                (ElemType::Boolean, false) if nested => {
                    out.insert(p.name.clone(), Value::Bool(false));
                }
                _ if p.navigation => {
                    return Err(invalid(
                        &path,
                        format_args!("the property is required; set it with '{}{BIND_SUFFIX}'", p.name),
                    ))
                }
                _ => return Err(invalid(&path, "the property is required")),
            }
        }
        Ok(())
    }

    fn value(&mut self, prop: &PropDef, value: Value, path: &Path) -> Result<Value> {
        if value.is_null() {
            return if prop.nullable { Ok(Value::Null) } else { Err(invalid(path, "can't be null")) };
        }
        if !prop.collection {
            return self.scalar(prop, value, path);
        }
        let Value::Array(items) = value else {
            return Err(invalid(path, "expected a JSON array"));
        };
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let path = path.item(i);
                if item.is_null() {
                    Err(invalid(&path, "collection items can't be null"))
                } else {
                    self.scalar(prop, item, &path)
                }
            })
            .collect::<Result<Vec<_>>>()
            .map(Value::Array)
    }

    fn scalar(&mut self, prop: &PropDef, value: Value, path: &Path) -> Result<Value> {
        let wrong = |expected: &str| invalid(path, format_args!("expected {expected}"));
        match &prop.elem {
            ElemType::Boolean => value.as_bool().map(Value::Bool).ok_or_else(|| wrong("true or false")),
            ElemType::Int32 => value
                .as_i64()
                .filter(|n| i32::try_from(*n).is_ok())
                .map(Value::from)
                .ok_or_else(|| wrong("a 32-bit integer")),
            ElemType::String => {
                let Value::String(s) = value else { return Err(wrong("a string")) };
                if prop.is_url && !is_http_url(&s) {
                    return Err(wrong("an absolute http or https URL"));
                }
                Ok(Value::String(s))
            }
            ElemType::DateTimeOffset => value
                .as_str()
                .and_then(time::normalize_datetime)
                .map(Value::String)
                .ok_or_else(|| wrong("a date and time with offset (RFC 3339)")),
            ElemType::Date => match value {
                Value::String(s) if time::is_date(&s) => Ok(Value::String(s)),
                _ => Err(wrong("a date (YYYY-MM-DD)")),
            },
            ElemType::Enum(name) => {
                let e = schema().enum_type(name).expect("enum types exist");
                let s = value.as_str().ok_or_else(|| wrong("a string"))?;
                e.member(s).map(|m| Value::String(m.to_string())).ok_or_else(|| {
                    invalid(path, format_args!("'{s}' is not a member of '{}' ({})", e.name, e.members.join(", ")))
                })
            }
            ElemType::Structured(name) => {
                let declared = schema().ty(name).expect("property types exist");
                self.complex(declared, value, path)
            }
        }
    }

    fn complex(&mut self, declared: &TypeDef, value: Value, path: &Path) -> Result<Value> {
        let Value::Object(obj) = value else {
            return Err(invalid(path, format_args!("expected an object of type '{}'", declared.odata_type())));
        };
        let s = schema();
        let annotation_path = path.member(TYPE_ANNOTATION);
        let ty = match annotation(&obj, TYPE_ANNOTATION) {
            Some(Value::String(t)) => {
                s.ty_from_annotation(t).filter(|ty| s.derives_from(&ty.name, &declared.name)).ok_or_else(|| {
                    invalid(
                        &annotation_path,
                        format_args!("'{t}' is not '{}' or a type derived from it", declared.odata_type()),
                    )
                })?
            }
            Some(_) => return Err(invalid(&annotation_path, "must be a string")),
            None => declared,
        };
        if ty.is_abstract {
            return Err(invalid(&annotation_path, must_choose(ty)));
        }
        let mut out = Map::new();
        if declared.is_abstract || ty.name != declared.name {
            out.insert(TYPE_ANNOTATION.into(), Value::String(ty.odata_type()));
        }
        for (key, v) in obj {
            self.member(ty, key, v, path, &mut out, false)?;
        }
        if s.derives_from(&ty.name, REFERENCE_VALUE) {
            self.reference_code(ty, &mut out, path)?;
        }
        self.require(ty, &mut out, path, true)?;
        Ok(Value::Object(out))
    }

    /// A `referenceValue`: `{code}` or `{value@odata.bind}`, reduced to the canonical `{code}`.
    fn reference_code(&mut self, ty: &TypeDef, out: &mut Map<String, Value>, path: &Path) -> Result<()> {
        let ref_type = reference::reference_type_of(ty.short_name()).expect("every referenceValue type has a table");
        let bound = out.remove(VALUE_BIND).and_then(|v| v.as_str().map(str::to_string));
        if bound.is_some() {
            self.bindings.pop(); // resolved here, against the catalog, rather than looked up as an entity
        }
        let bound_code = match bound {
            Some(id) => {
                let code = id
                    .split_once('-')
                    .filter(|(t, _)| t.eq_ignore_ascii_case(ref_type))
                    .map(|(_, c)| c.to_string())
                    .ok_or_else(|| {
                        invalid(
                            &path.member(VALUE_BIND),
                            format_args!("'{id}' is not a {ref_type} reference definition"),
                        )
                    })?;
                Some(code)
            }
            None => None,
        };
        let given = out.get("code").and_then(Value::as_str).map(str::to_string);
        let code = match (given, bound_code) {
            (Some(c), Some(b)) if !c.eq_ignore_ascii_case(&b) => {
                return Err(invalid(path, "'code' and 'value@odata.bind' name different definitions"))
            }
            (Some(c), _) | (None, Some(c)) => c,
            (None, None) => return Err(invalid(&path.member("code"), "the property is required")),
        };
        let canonical = self.catalog.resolve(ref_type, &code).map_err(|problem| {
            let why = match problem {
                CodeProblem::Unknown => "is not",
                CodeProblem::Disabled => "is disabled; it is no longer",
            };
            invalid(&path.member("code"), format_args!("'{code}' {why} a valid {ref_type} code"))
        })?;
        out.insert("code".into(), Value::String(canonical));
        Ok(())
    }

    fn bind(&self, prop: &PropDef, value: &Value, path: &Path) -> Result<Binding> {
        let ElemType::Structured(target) = &prop.elem else { unreachable!("navigation properties are structured") };
        let raw = value.as_str().ok_or_else(|| invalid(path, "a bind must be a URL string"))?;
        let (set, id) = bind::parse(raw)
            .filter(|(set, _)| schema().derives_from(&set.item_type_name(), target))
            .ok_or_else(|| invalid(path, format_args!("'{raw}' is not a link to a '{target}' entity")))?;
        Ok(Binding { path: path.to_string(), set, id })
    }
}

fn is_http_url(s: &str) -> bool {
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace))
}

/// PATCH semantics: each property present in the body replaces the stored one whole; absent ones stay. A new
/// document rather than an edit of the stored one, which is shared: only the values the patch keeps are copied.
pub fn merged(stored: &Map<String, Value>, mut patch: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::with_capacity(stored.len() + patch.len());
    for (k, v) in stored {
        let v = patch.shift_remove(k).unwrap_or_else(|| v.clone());
        out.insert(k.clone(), v);
    }
    out.extend(patch);
    out
}
