#include "projections/json_writer.h"

#include <gtest/gtest.h>

#include <string>

namespace casegrid {
namespace {

TEST(JsonWriterTest, SeparatesMembersAndElementsAtEveryDepth) {
  JsonWriter w;
  w.BeginObject();
  w.Key("a").Int(1);
  w.Key("empty_object").BeginObject().EndObject();
  w.Key("empty_array").BeginArray().EndArray();
  w.Key("list").BeginArray();
  w.Int(1).String("x").Null();
  w.BeginObject().Key("k").Bool(true).Key("l").BeginArray().Bool(false).EndArray().EndObject();
  w.BeginArray().EndArray();
  w.EndArray();
  w.Key("t").Time(0).Key("u").Time(86'400'000);
  w.Key("raw").Raw(R"({"x":[1,2]})").Key("last").Double(0.5);
  w.EndObject();
  EXPECT_EQ(
      w.str(),
      R"({"a":1,"empty_object":{},"empty_array":[],"list":[1,"x",null,{"k":true,"l":[false]},[]],)"
      R"("t":null,"u":"1970-01-02T00:00:00.000Z","raw":{"x":[1,2]},"last":0.5})");
}

TEST(JsonWriterTest, EscapesKeysOfAnyLength) {
  // The short-key path and the long one (past 32 bytes) escape alike.
  for (const std::string& key :
       {std::string("q\"uote"), std::string("back\\slash"), std::string(40, 'k') + "\\",
        std::string("tab\there"), std::string(32, 'x'), std::string(33, 'y'), std::string("")}) {
    JsonWriter w;
    w.BeginObject().Key(key).Int(7).Key(key).Int(8).EndObject();
    std::string quoted;
    AppendJsonString(quoted, key);
    EXPECT_EQ(w.str(), "{" + quoted + ":7," + quoted + ":8}") << key;
  }
}

TEST(JsonWriterTest, ATopLevelArrayOfObjects) {
  JsonWriter w(1);  // a tiny reservation grows as needed
  w.BeginArray();
  for (int i = 0; i < 3; ++i) w.BeginObject().Key("i").Int(i).EndObject();
  w.EndArray();
  EXPECT_EQ(w.Take(), R"([{"i":0},{"i":1},{"i":2}])");
}

}  // namespace
}  // namespace casegrid
