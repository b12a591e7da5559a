//! The `severa_entity!` macro: one declaration gives the struct, its member table, streaming
//! decoding and request encoding. Members must be declared in ordinal (byte-wise) order, which
//! is the order WCF expects on the wire; a test checks every entity.

/// Declares a Severa entity. Every member is optional: unset members are omitted from requests,
/// nil or absent members read as `None`, unknown members are ignored.
#[macro_export]
macro_rules! severa_entity {
    (
        $(#[$meta:meta])*
        $name:ident = $wire:literal {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $member:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(rename = $member, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }

        impl $name {
            /// Element name of this type (list items are named after it).
            pub const TYPE_NAME: &'static str = $wire;
            /// Wire member names, in the order they are written.
            pub const MEMBERS: &'static [&'static str] = &[$($member),*];

            fn decode_member<R: std::io::BufRead>(
                &mut self,
                index: usize,
                r: &mut $crate::wire::XmlIn<R>,
                child: $crate::wire::Child,
            ) -> Result<(), $crate::wire::WireError> {
                let mut at = 0usize;
                $(
                    if index == at {
                        self.$field = <Option<$ty> as $crate::wire::FromWire>::from_wire(r, child)
                            .map_err(|e| e.in_member($member))?;
                        return Ok(());
                    }
                    at += 1;
                )*
                let _ = at;
                r.skip()
            }
        }

        impl $name {
            /// Reads the members of the element just entered into `self` (left as is for nil).
            fn decode_into<R: std::io::BufRead>(
                &mut self,
                r: &mut $crate::wire::XmlIn<R>,
                child: $crate::wire::Child,
            ) -> Result<(), $crate::wire::WireError> {
                if child.nil {
                    return r.skip();
                }
                // Members usually arrive in declaration order: try the next expected one first.
                let mut expected = 0usize;
                while let Some((member, found)) = r.next_member_of(Self::MEMBERS, expected)? {
                    match found {
                        Some(index) => {
                            self.decode_member(index, r, member)?;
                            expected = index + 1;
                        }
                        None => r.skip()?,
                    }
                }
                Ok(())
            }
        }

        impl $crate::wire::FromWire for $name {
            fn from_wire<R: std::io::BufRead>(
                r: &mut $crate::wire::XmlIn<R>,
                child: $crate::wire::Child,
            ) -> Result<Self, $crate::wire::WireError> {
                let mut entity = Self::default();
                entity.decode_into(r, child)?;
                Ok(entity)
            }

            fn push_from_wire<R: std::io::BufRead>(
                r: &mut $crate::wire::XmlIn<R>,
                child: $crate::wire::Child,
                items: &mut Vec<Self>,
            ) -> Result<(), $crate::wire::WireError> {
                let at = items.len();
                items.push(Self::default());
                items[at].decode_into(r, child)
            }
        }

        impl $crate::wire::ToWire for $name {
            fn to_wire(
                &self,
                out: &mut $crate::wire::XmlOut,
                prefix: &str,
                name: &str,
            ) -> Result<(), String> {
                out.open(prefix, name);
                $(
                    $crate::wire::ToWire::to_wire(&self.$field, out, $crate::wire::ENTITY_PREFIX, $member)?;
                )*
                out.close(prefix, name);
                Ok(())
            }
        }

        impl $crate::wire::ListItem for $name {
            const ITEM_PREFIX: &'static str = $crate::wire::ENTITY_PREFIX;
            const ITEM_NAME: &'static str = $wire;
        }
    };
}
