//! Request bodies → stored documents: every rule a body must satisfy, checked against the CSDL.
//!
//! The output is canonical: property names as the schema spells them, enum members and reference codes in
//! their canonical case, times in UTC, `@odata.type` kept only where the declared type is polymorphic, and
//! navigation binds reduced to `{nav}@odata.bind: "{id}"`. Input-only annotations (`@odata.context`, ...) and
//! computed properties are dropped. A body is checked whole before anything is stored, so a bad field never
//! leaves half a change behind.
//!
//! The body is checked while it is parsed: serde seeds carry each value's declared property and path down the
//! JSON, so a valid body becomes its canonical document in one pass, without a `Value` tree of the raw body to
//! build, walk and free. Only an object whose type hangs on an `@odata.type` that is not its first member (the
//! Graph SDKs write it first) is read into a `Value` first and then checked by the same code, replayed through
//! serde_json's `Value` deserializer.

use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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

/// Check a POST or PATCH body (the request's bytes) for an item of `set`.
pub fn check_entity(set: &EntitySet, body: &[u8], mode: Mode<'_>, catalog: &Catalog) -> Result<Checked> {
    if let Some(e) = shape_error(body) {
        return Err(e);
    }
    let mut checker = Checker { catalog, bindings: Vec::new(), error: None };
    let mut json = serde_json::Deserializer::from_slice(body);
    let visitor =
        ObjectVisitor { checker: &mut checker, shape: Shape::Entity { set, mode }, path: &Path::Root, known: None };
    let (ty, mut props) = match json.deserialize_map(visitor).and_then(|checked| json.end().map(|()| checked)) {
        Ok(checked) => checked,
        Err(e) => return Err(checker.error.take().unwrap_or_else(|| not_json(&e))),
    };
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

/// The error of a body that no item could have: not JSON at all, or JSON but not an object. A request whose
/// target does not exist still gets this 400 rather than a 404 (the body is read before the item is).
pub fn syntax_error(body: &[u8]) -> Option<DomainError> {
    match serde_json::from_slice::<IgnoredAny>(body) {
        Err(e) => Some(not_json(&e)),
        Ok(_) if !opens_object(body) => Some(DomainError::bad_request("The request body must be a JSON object.")),
        Ok(_) => None,
    }
}

/// The error of a body that is no JSON object, found without parsing one that starts like one (the check
/// itself parses those).
fn shape_error(body: &[u8]) -> Option<DomainError> {
    if opens_object(body) {
        None
    } else {
        syntax_error(body)
    }
}

fn opens_object(body: &[u8]) -> bool {
    body.trim_ascii_start().first() == Some(&b'{')
}

fn not_json(e: &serde_json::Error) -> DomainError {
    DomainError::bad_request(format!("The request body is not valid JSON: {e}."))
}

/// The concrete type a body is for: its `@odata.type`, checked against the set and the stored type.
fn entity_type(set: &EntitySet, annotation: Option<&Value>, mode: Mode<'_>) -> Result<&'static TypeDef> {
    let s = schema();
    let base = set.item_type_name();
    let named = match annotation {
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

/// The type of an object value declared as `declared`: its `@odata.type` when it names `declared` or a type
/// derived from it, else `declared`; never an abstract one.
fn complex_type(declared: &'static TypeDef, annotation: Option<&Value>, path: &Path) -> Result<&'static TypeDef> {
    let s = schema();
    let annotation_path = path.member(TYPE_ANNOTATION);
    let ty = match annotation {
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
    Ok(ty)
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

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (parent, segment): (&Path, &dyn fmt::Display) = match self {
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
fn invalid(path: &Path, message: impl fmt::Display) -> DomainError {
    DomainError::invalid(&path.to_string(), message)
}

struct Checker<'a> {
    catalog: &'a Catalog,
    bindings: Vec<Binding>,
    /// The rule a body broke, kept here while serde unwinds with an error of its own type.
    error: Option<DomainError>,
}

/// What an object in the body is.
#[derive(Clone, Copy)]
enum Shape<'a> {
    /// The body itself, an item of `set`.
    Entity { set: &'a EntitySet, mode: Mode<'a> },
    /// The value of a structured property, or an item of a collection of them.
    Complex { declared: &'static TypeDef },
}

impl Shape<'_> {
    /// Whether the object's type can only be known from its `@odata.type`.
    fn needs_annotation(&self) -> bool {
        let s = schema();
        match self {
            Shape::Entity { mode: Mode::Update { .. }, .. } => false, // the stored item's type decides
            Shape::Entity { set, .. } => s.ty(&set.item_type_name()).is_some_and(|ty| s.is_polymorphic(ty)),
            Shape::Complex { declared } => s.is_polymorphic(declared),
        }
    }

    /// The object's type, given its `@odata.type` (if it has one).
    fn resolve(&self, annotation: Option<&Value>, path: &Path) -> Result<&'static TypeDef> {
        match *self {
            Shape::Entity { set, mode } => entity_type(set, annotation, mode),
            Shape::Complex { declared } => complex_type(declared, annotation, path),
        }
    }
}

/// Checks one JSON object into its canonical members, yielding its type with them.
struct ObjectVisitor<'c, 'a, 'p> {
    checker: &'c mut Checker<'a>,
    shape: Shape<'p>,
    path: &'p Path<'p>,
    /// The object's type when it is already known (a buffered object, replayed).
    known: Option<&'static TypeDef>,
}

impl<'de> Visitor<'de> for ObjectVisitor<'_, '_, '_> {
    type Value = (&'static TypeDef, Map<String, Value>);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let ObjectVisitor { checker, shape, path, known } = self;
        let mut first = None;
        let ty = match known {
            Some(ty) => ty,
            None => {
                first = map.next_key::<String>()?;
                match first.as_deref() {
                    Some(key) if key.eq_ignore_ascii_case(TYPE_ANNOTATION) => {
                        let annotation: Value = map.next_value()?;
                        first = None;
                        checker.ok(shape.resolve(Some(&annotation), path))?
                    }
                    _ if !shape.needs_annotation() => checker.ok(shape.resolve(None, path))?,
                    _ => return buffered(checker, shape, path, first, map),
                }
            }
        };
        let mut out = Map::new();
        if let Shape::Complex { declared } = shape {
            if declared.is_abstract || ty.name != declared.name {
                out.insert(TYPE_ANNOTATION.into(), Value::String(ty.odata_type()));
            }
        }
        let mut object = Object { checker, shape, path, ty };
        while let Some(key) = match first.take() {
            Some(key) => Some(key),
            None => map.next_key::<String>()?,
        } {
            object.member(key, &mut map, &mut out)?;
        }
        let Object { checker, .. } = object;
        if let Shape::Complex { .. } = shape {
            let finished =
                checker.reference_code(ty, &mut out, path).and_then(|()| checker.require(ty, &mut out, path, true));
            checker.ok(finished)?;
        }
        Ok((ty, out))
    }
}

/// An object whose `@odata.type` may come after other members: read whole, then checked as its annotation says.
fn buffered<'de, A: MapAccess<'de>>(
    checker: &mut Checker,
    shape: Shape,
    path: &Path,
    first: Option<String>,
    mut map: A,
) -> Result<(&'static TypeDef, Map<String, Value>), A::Error> {
    let mut object = Map::new();
    if let Some(key) = first {
        object.insert(key, map.next_value()?);
    }
    while let Some((key, value)) = map.next_entry::<String, Value>()? {
        object.insert(key, value);
    }
    let ty = checker.ok(shape.resolve(annotation(&object, TYPE_ANNOTATION), path))?;
    Value::Object(object)
        .deserialize_map(ObjectVisitor { checker, shape, path, known: Some(ty) })
        .map_err(de::Error::custom)
}

/// An object of a known type, member by member.
struct Object<'c, 'a, 'p> {
    checker: &'c mut Checker<'a>,
    shape: Shape<'p>,
    path: &'p Path<'p>,
    ty: &'static TypeDef,
}

impl Object<'_, '_, '_> {
    /// One `key: value` member, written canonically into `out`.
    fn member<'de, A: MapAccess<'de>>(
        &mut self,
        key: String,
        map: &mut A,
        out: &mut Map<String, Value>,
    ) -> Result<(), A::Error> {
        let (ty, path) = (self.ty, self.path);
        if key.eq_ignore_ascii_case(TYPE_ANNOTATION) {
            // Not the first member (or a second one): it must name the type the object was checked as.
            let annotation: Value = map.next_value()?;
            let same = self.shape.resolve(Some(&annotation), path).and_then(|named| {
                std::ptr::eq(named, ty)
                    .then_some(())
                    .ok_or_else(|| invalid(&path.member(TYPE_ANNOTATION), "the object names two different types"))
            });
            return self.checker.ok(same);
        }
        if let Shape::Entity { mode, .. } = self.shape {
            if key.eq_ignore_ascii_case("id") {
                let value: Value = map.next_value()?;
                return match mode {
                    Mode::Update { id, .. } if value.as_str() != Some(id) => self
                        .checker
                        .ok(Err(DomainError::invalid("id", "the id of an existing entity can't be changed"))),
                    _ => Ok(()),
                };
            }
        }
        if let Some(nav) = key.strip_suffix(BIND_SUFFIX) {
            let value: Value = map.next_value()?;
            let path = path.member(nav);
            let bound = ty
                .prop(nav)
                .filter(|p| p.navigation && !p.collection)
                .ok_or_else(|| {
                    invalid(&path, format_args!("'{nav}' is not a navigation property of '{}'", ty.short_name()))
                })
                .and_then(|prop| Ok((prop, self.checker.bind(prop, &value, &path)?)));
            let (prop, binding) = self.checker.ok(bound)?;
            out.insert(format!("{}{BIND_SUFFIX}", prop.name), Value::String(binding.id.clone()));
            self.checker.bindings.push(binding);
            return Ok(());
        }
        if key.starts_with('@') || key.contains("@odata.") {
            map.next_value::<IgnoredAny>()?; // instance annotations (`@odata.context`, ...) carry no data
            return Ok(());
        }
        let path = path.member(&key);
        let updating = matches!(self.shape, Shape::Entity { mode: Mode::Update { .. }, .. });
        let Some(prop) = self.checker.ok(property(ty, &key, &path, updating))? else {
            map.next_value::<IgnoredAny>()?; // server-set; a client echoing it back changes nothing
            return Ok(());
        };
        let value = map.next_value_seed(ValueSeed { checker: &mut *self.checker, prop, path: &path, item: false })?;
        out.insert(if key == prop.name { key } else { prop.name.clone() }, value);
        Ok(())
    }
}

/// The property a member sets, or `None` when the server sets it (a client may echo those back).
fn property(ty: &'static TypeDef, key: &str, path: &Path, updating: bool) -> Result<Option<&'static PropDef>> {
    let prop = ty
        .prop(key)
        .ok_or_else(|| invalid(path, format_args!("the property does not exist on type '{}'", ty.odata_type())))?;
    if prop.navigation {
        return Err(invalid(path, format_args!("set it with '{}{BIND_SUFFIX}'", prop.name)));
    }
    if prop.computed || prop.name == "id" {
        return Ok(None);
    }
    if updating && prop.immutable {
        return Err(invalid(path, "the property can't be changed after creation"));
    }
    Ok(Some(prop))
}

/// Checks the value of `prop` (or, with `item`, one item of its collection) into its canonical form. Arrays of
/// a collection and objects of a structured type are checked as they are read; any other value is read whole
/// (a scalar, or a shape that is wrong and only needs an error) and checked as a `Value`.
struct ValueSeed<'c, 'a, 'p> {
    checker: &'c mut Checker<'a>,
    prop: &'static PropDef,
    path: &'p Path<'p>,
    item: bool,
}

impl ValueSeed<'_, '_, '_> {
    fn whole<E: de::Error>(self, value: Value) -> Result<Value, E> {
        let (prop, path) = (self.prop, self.path);
        let checked =
            if self.item { self.checker.item(prop, value, path) } else { self.checker.value(prop, value, path) };
        self.checker.ok(checked)
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.whole(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.whole(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.whole(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.whole(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.whole(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.whole(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.whole(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.whole(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if !self.prop.collection || self.item {
            let value = Value::deserialize(SeqAccessDeserializer::new(seq))?;
            return self.whole(value);
        }
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            let path = self.path.item(items.len());
            let seed = ValueSeed { checker: &mut *self.checker, prop: self.prop, path: &path, item: true };
            match seq.next_element_seed(seed)? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        match &self.prop.elem {
            ElemType::Structured(name) if self.item || !self.prop.collection => {
                let declared = schema().ty(name).expect("property types exist");
                let visitor = ObjectVisitor {
                    checker: self.checker,
                    shape: Shape::Complex { declared },
                    path: self.path,
                    known: None,
                };
                visitor.visit_map(map).map(|(_, object)| Value::Object(object))
            }
            _ => {
                let value = Value::deserialize(MapAccessDeserializer::new(map))?;
                self.whole(value)
            }
        }
    }
}

impl Checker<'_> {
    /// `r`, with a broken rule kept for [`check_entity`] to return and serde's error type to unwind with.
    fn ok<T, E: de::Error>(&mut self, r: Result<T>) -> Result<T, E> {
        r.map_err(|e| {
            let unwind = E::custom(&e.message);
            self.error.get_or_insert(e);
            unwind
        })
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

    /// A property's value that is not an array or object being checked as it is read.
    fn value(&mut self, prop: &PropDef, value: Value, path: &Path) -> Result<Value> {
        if value.is_null() {
            return if prop.nullable { Ok(Value::Null) } else { Err(invalid(path, "can't be null")) };
        }
        if prop.collection {
            return Err(invalid(path, "expected a JSON array"));
        }
        self.scalar(prop, value, path)
    }

    /// An item of a collection that is not an object being checked as it is read.
    fn item(&mut self, prop: &PropDef, value: Value, path: &Path) -> Result<Value> {
        if value.is_null() {
            return Err(invalid(path, "collection items can't be null"));
        }
        self.scalar(prop, value, path)
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
            // Objects are checked as they are read (`ValueSeed::visit_map`); anything else is the wrong shape.
            ElemType::Structured(name) => {
                let declared = schema().ty(name).expect("property types exist");
                Err(wrong(&format!("an object of type '{}'", declared.odata_type())))
            }
        }
    }

    /// A `referenceValue`: `{code}` or `{value@odata.bind}`, reduced to the canonical `{code}`.
    fn reference_code(&mut self, ty: &TypeDef, out: &mut Map<String, Value>, path: &Path) -> Result<()> {
        if !schema().derives_from(&ty.name, REFERENCE_VALUE) {
            return Ok(());
        }
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

/// Every secret string of a document of type `ty` (see [`PropDef::is_secret`]), at any depth: for the server to
/// seal what a client sent before it is stored, and for whoever needs a credential to open it.
pub fn secrets_mut(ty: &TypeDef, doc: &mut Map<String, Value>, f: &mut dyn FnMut(&mut String)) {
    if !schema().may_hold_secrets(ty) {
        return; // most documents: nothing to walk
    }
    for (key, value) in doc.iter_mut() {
        let Some(prop) = ty.prop(key).filter(|p| !p.navigation) else { continue };
        let items = match value {
            Value::Array(items) => items.as_mut_slice(),
            one => std::slice::from_mut(one),
        };
        for item in items {
            match (item, &prop.elem) {
                (Value::String(s), _) if prop.is_secret() => f(s),
                (Value::Object(obj), ElemType::Structured(declared)) => secrets_mut(stored_type(declared, obj), obj, f),
                _ => {}
            }
        }
    }
}

/// The type of an object value in a checked document: the type its `@odata.type` names (kept where the
/// declared type is polymorphic), else the declared one.
pub fn stored_type(declared: &str, obj: &Map<String, Value>) -> &'static TypeDef {
    let s = schema();
    obj.get(TYPE_ANNOTATION)
        .and_then(Value::as_str)
        .and_then(|t| s.ty_from_annotation(t))
        .or_else(|| s.ty(declared))
        .expect("documents are checked against the schema")
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sets;

    const CLASS_GROUP: &str = "microsoft.graph.industryData.classGroupProvisioningFlow";

    fn flows() -> &'static EntitySet {
        sets::SETS.iter().find(|s| s.name == "provisioningFlows").expect("the provisioningFlows set")
    }

    fn check(body: &str, mode: Mode<'_>) -> Result<Checked> {
        let none: Vec<Map<String, Value>> = Vec::new();
        check_entity(flows(), body.as_bytes(), mode, &Catalog::new(&none))
    }

    fn patch(body: &str) -> Result<Checked> {
        check(body, Mode::Update { id: "f1", stored_type: CLASS_GROUP })
    }

    /// The error's target (the path it names), or its message when it names none.
    fn rejected(r: Result<Checked>) -> String {
        let e = r.expect_err("the body should be refused");
        assert_eq!(e.kind, crate::ErrorKind::BadRequest, "{e}");
        e.target.unwrap_or(e.message)
    }

    fn class_group(type_first: bool) -> String {
        let annotated = |ty: &str, members: &str| {
            let annotation = format!(r##""@odata.type": "#microsoft.graph.industryData.{ty}""##);
            if type_first {
                format!("{{{annotation}, {members}}}")
            } else {
                format!("{{{members}, {annotation}}}")
            }
        };
        let role = |code: &str| annotated("sectionRoleReferenceValue", &format!(r#""code": "{code}""#));
        let mappings = annotated(
            "enrollmentMappings",
            &format!(
                r#""memberEnrollmentMappings": [{}], "ownerEnrollmentMappings": [{}]"#,
                role("Student"),
                role("teacher")
            ),
        );
        let options = annotated("additionalClassGroupOptions", r#""createTeam": true"#);
        let configuration = annotated(
            "classGroupConfiguration",
            &format!(
                r#""additionalAttributes": ["courseTitle"], "additionalOptions": {options}, "enrollmentMappings": {mappings}"#
            ),
        );
        annotated("classGroupProvisioningFlow", &format!(r#""configuration": {configuration}"#))
    }

    #[test]
    fn a_body_reads_the_same_wherever_its_annotations_stand() {
        for mode in [Mode::Create, Mode::Update { id: "f1", stored_type: CLASS_GROUP }] {
            let first = check(&class_group(true), mode).unwrap();
            // Last: the flow's own type is read from the buffered body (the set is polymorphic on create); the
            // nested objects' types have one candidate each, so they are checked as they are read.
            let last = check(&class_group(false), mode).unwrap();
            assert_eq!(first.ty.name, CLASS_GROUP);
            assert!(std::ptr::eq(first.ty, last.ty));
            assert_eq!(first.props, last.props);
            let mappings = &first.props["configuration"]["enrollmentMappings"];
            assert_eq!(mappings["memberEnrollmentMappings"], json!([{"code": "student"}]), "canonical code");
            assert_eq!(first.props["configuration"]["additionalOptions"]["writeDisplayNameOnCreateOnly"], json!(false));
        }
    }

    #[test]
    fn a_create_names_its_type_anywhere_or_is_told_to() {
        let checked = check(
            r##"{"displayName": "x", "@odata.type": "#microsoft.graph.industryData.securityGroupProvisioningFlow",
            "creationOptions": {"createBasedOnroleGroup": true, "createBasedOnOrgPlusroleGroup": false}}"##,
            Mode::Create,
        );
        assert_eq!(rejected(checked), "displayName", "checked as the annotation says, though it came second");
        let untyped = check(r#"{"configuration": {}}"#, Mode::Create);
        assert_eq!(rejected(untyped), "@odata.type");
    }

    #[test]
    fn errors_name_the_value_they_are_about() {
        let cases = [
            (
                r#"{"configuration": {"enrollmentMappings": {"ownerEnrollmentMappings": [{"code": "teacher"}, {"code": "nope"}]}}}"#,
                "configuration/enrollmentMappings/ownerEnrollmentMappings/1/code",
            ),
            (
                r#"{"configuration": {"enrollmentMappings": {"memberEnrollmentMappings": [null]}}}"#,
                "configuration/enrollmentMappings/memberEnrollmentMappings/0",
            ),
            (
                r#"{"configuration": {"enrollmentMappings": {"memberEnrollmentMappings": [["x"]]}}}"#,
                "configuration/enrollmentMappings/memberEnrollmentMappings/0",
            ),
            (r#"{"configuration": {"additionalAttributes": "courseTitle"}}"#, "configuration/additionalAttributes"),
            (r#"{"configuration": {"additionalAttributes": ["nope"]}}"#, "configuration/additionalAttributes/0"),
            (r#"{"configuration": {"additionalAttributes": [{"a": 1}]}}"#, "configuration/additionalAttributes/0"),
            (
                r#"{"configuration": {"additionalOptions": {"createTeam": "yes"}}}"#,
                "configuration/additionalOptions/createTeam",
            ),
            (r#"{"configuration": [1]}"#, "configuration"),
            (r#"{"configuration": {"nope": {"deep": [1, {"x": null}]}}}"#, "configuration/nope"),
            (r##"{"configuration": {"@odata.type": 5}}"##, "configuration/@odata.type"),
            (
                r##"{"configuration": {"@odata.type": "#microsoft.graph.industryData.enrollmentMappings"}}"##,
                "configuration/@odata.type",
            ),
            (r##"{"@odata.type": "#microsoft.graph.industryData.userProvisioningFlow"}"##, "@odata.type"),
            (r#"{"id": "f2"}"#, "id"),
        ];
        for (body, target) in cases {
            assert_eq!(rejected(patch(body)), target, "{body}");
        }
    }

    #[test]
    fn an_object_can_not_name_two_types() {
        let flow = |ty: &str| format!(r##""@odata.type": "#microsoft.graph.industryData.{ty}""##);
        let body = format!("{{{}, {}}}", flow("classGroupProvisioningFlow"), flow("securityGroupProvisioningFlow"));
        assert_eq!(rejected(check(&body, Mode::Create)), "@odata.type");
        let same = format!("{{{}, {}}}", flow("classGroupProvisioningFlow"), flow("classGroupProvisioningFlow"));
        assert!(patch(&same).unwrap().props.is_empty());
    }

    #[test]
    fn what_is_not_a_json_object_is_refused_as_such() {
        for (body, says) in [
            (r#"{"configuration": "#, "not valid JSON"),
            (r#"{"@odata.context": "x"} x"#, "not valid JSON"),
            ("[1, 2]", "must be a JSON object"),
            ("\"x\"", "must be a JSON object"),
            ("nope", "not valid JSON"),
        ] {
            assert!(rejected(patch(body)).contains(says), "{body}");
            assert!(syntax_error(body.as_bytes()).is_some_and(|e| e.message.contains(says)), "{body}");
        }
        assert!(syntax_error(br#"{"anything": [1]}"#).is_none());
        // Server-set members and instance annotations are accepted and dropped; an id must be the item's own.
        let echoed =
            patch(r#"{"id": "f1", "createdDateTime": "x", "@odata.context": "y", "configuration@odata.type": "z"}"#);
        assert!(echoed.unwrap().props.is_empty());
    }
}
