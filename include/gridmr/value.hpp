// Value types a job may emit: what the engine can carry, and how HDF5 stores them.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace gridmr {

// How a value type is laid out, for the result file. Built at compile time
// from the C++ type (describe<V>()), turned into an HDF5 type by the library.
struct TypeDescription {
  enum class Kind { kUnsigned, kSigned, kFloat, kArray, kCompound };
  struct Field {
    std::string name;
    std::size_t offset;
    std::shared_ptr<const TypeDescription> type;
  };
  Kind kind = Kind::kUnsigned;
  std::size_t size = 0;                            // bytes of one value
  std::size_t length = 0;                          // kArray: elements
  std::shared_ptr<const TypeDescription> element;  // kArray: their type
  std::vector<Field> fields;                       // kCompound
};

// One named member of a struct value, for its HDF5 compound type:
//   struct Range {
//     double min, max;
//     static constexpr auto fields = std::tuple{gridmr::field("min", &Range::min),
//                                               gridmr::field("max", &Range::max)};
//   };
template <class S, class M>
struct FieldOf {
  const char* name;
  M S::*member;
};
template <class S, class M>
constexpr FieldOf<S, M> field(const char* name, M S::*member) {
  return {name, member};
}

template <class T>
struct is_std_array : std::false_type {};
template <class T, std::size_t N>
struct is_std_array<std::array<T, N>> : std::true_type {};

template <class V>
concept HasFields = requires {
  V::fields;
};

// A value the engine can carry through its tables, the shuffle and the
// result file: plain bytes (trivially copyable, aligned to at most 8 bytes)
// that are a number, a std::array of values, or a struct that lists its
// fields. Anything else is a compile error, never a silent conversion.
template <class V>
concept Value =
    std::is_trivially_copyable_v<V> && alignof(V) <= 8 && std::is_default_constructible_v<V> &&
    (std::is_arithmetic_v<V> || is_std_array<V>::value || HasFields<V>)&&(!std::is_same_v<V, bool>);

template <Value V>
std::shared_ptr<const TypeDescription> describe();

namespace detail {

template <class S, class M>
std::size_t offset_of(M S::*member) {
  static const S object{};
  return static_cast<std::size_t>(reinterpret_cast<const char*>(&(object.*member)) -
                                  reinterpret_cast<const char*>(&object));
}

}  // namespace detail

template <Value V>
std::shared_ptr<const TypeDescription> describe() {
  auto type = std::make_shared<TypeDescription>();
  type->size = sizeof(V);
  using Kind = TypeDescription::Kind;
  if constexpr (std::is_floating_point_v<V>) {
    type->kind = Kind::kFloat;
  } else if constexpr (std::is_integral_v<V>) {
    type->kind = std::is_signed_v<V> ? Kind::kSigned : Kind::kUnsigned;
  } else if constexpr (is_std_array<V>::value) {
    type->kind = Kind::kArray;
    type->length = std::tuple_size_v<V>;
    type->element = describe<typename V::value_type>();
  } else {
    type->kind = Kind::kCompound;
    std::apply(
        [&](const auto&... f) {
          (type->fields.push_back(
               {f.name, detail::offset_of(f.member),
                describe<std::remove_cvref_t<decltype(std::declval<V>().*(f.member))>>()}),
           ...);
        },
        V::fields);
  }
  return type;
}

// Whether emit(key, u) may store u as a V: the same type, or a number that V
// holds without a silent loss (an integer into any integer or floating type, a
// float into a floating type of at least its size). A double into an integer
// value does not compile.
template <class U, class V>
concept EmittableAs = std::same_as<std::remove_cvref_t<U>, V> ||
    (std::is_arithmetic_v<std::remove_cvref_t<U>>&& std::is_arithmetic_v<V> &&
     !std::is_same_v<std::remove_cvref_t<U>, bool> &&
     (std::is_integral_v<std::remove_cvref_t<U>> ||
      (std::is_floating_point_v<V> && sizeof(V) >= sizeof(std::remove_cvref_t<U>))));

// A grouped value: each key gets all the values emitted for it, not one
// combined value. `using Value = gridmr::Group<std::uint64_t>;` and then
// emit(word, file_number): the result lists, per key, its distinct values in
// ascending order with how often each was emitted (Result<Group<E>>).
template <Value E>
struct Group {
  using element_type = E;
};

template <class V>
struct is_group : std::false_type {};
template <class E>
struct is_group<Group<E>> : std::true_type {};

namespace detail {

// E as bytes whose byte order is E's order: big-endian for integers (the sign
// bit flipped for signed ones), the IEEE trick for floating point, the bytes
// as they are for arrays and structs. decode_ordered undoes it.
template <class E>
void encode_ordered(const E& value, char* out) {
  if constexpr (std::is_integral_v<E> || std::is_floating_point_v<E>) {
    using U = std::conditional_t<
        sizeof(E) == 8, std::uint64_t,
        std::conditional_t<sizeof(E) == 4, std::uint32_t,
                           std::conditional_t<sizeof(E) == 2, std::uint16_t, std::uint8_t>>>;
    U bits;
    std::memcpy(&bits, &value, sizeof bits);
    constexpr U sign = U(U{1} << (8 * sizeof(U) - 1));
    if constexpr (std::is_floating_point_v<E>) {
      bits = (bits & sign) ? U(~bits) : U(bits | sign);
    } else if constexpr (std::is_signed_v<E>) {
      bits = U(bits ^ sign);
    }
    for (std::size_t i = 0; i < sizeof(U); ++i) {
      out[i] = static_cast<char>(bits >> (8 * (sizeof(U) - 1 - i)));
    }
  } else {
    std::memcpy(out, &value, sizeof value);
  }
}

template <class E>
E decode_ordered(const char* in) {
  E value;
  if constexpr (std::is_integral_v<E> || std::is_floating_point_v<E>) {
    using U = std::conditional_t<
        sizeof(E) == 8, std::uint64_t,
        std::conditional_t<sizeof(E) == 4, std::uint32_t,
                           std::conditional_t<sizeof(E) == 2, std::uint16_t, std::uint8_t>>>;
    U bits = 0;
    for (std::size_t i = 0; i < sizeof(U); ++i)
      bits = U(bits << 8 | static_cast<unsigned char>(in[i]));
    constexpr U sign = U(U{1} << (8 * sizeof(U) - 1));
    if constexpr (std::is_floating_point_v<E>) {
      bits = (bits & sign) ? U(bits ^ sign) : U(~bits);
    } else if constexpr (std::is_signed_v<E>) {
      bits = U(bits ^ sign);
    }
    std::memcpy(&value, &bits, sizeof value);
  } else {
    std::memcpy(&value, in, sizeof value);
  }
  return value;
}

}  // namespace detail

}  // namespace gridmr
