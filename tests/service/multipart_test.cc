// multipart/form-data bodies as browsers and HTTP libraries send them, and broken ones.
#include "service/multipart.h"

#include <gtest/gtest.h>

namespace clearsight::service {
namespace {

TEST(Multipart, TheBoundaryComesFromTheContentType) {
  EXPECT_EQ(MultipartBoundary("multipart/form-data; boundary=abc123"), "abc123");
  EXPECT_EQ(MultipartBoundary("Multipart/Form-Data;boundary=\"a b;c\""), "a b;c");
  EXPECT_EQ(MultipartBoundary("multipart/form-data; charset=utf-8; boundary=x"), "x");
  EXPECT_EQ(MultipartBoundary("application/json"), "");
  EXPECT_EQ(MultipartBoundary("multipart/mixed; boundary=x"), "");
}

TEST(Multipart, PartsKeepTheirNamesFilesTypesAndBytes) {
  const std::string binary("\0\r\n--not-the-boundary\r\n\xff", 24);
  const std::string body =
      "preamble to skip\r\n--XyZ\r\n"
      "Content-Disposition: form-data; name=\"sidecar\"\r\n\r\n"
      "{\"scan_id\":\"s1\"}\r\n--XyZ\r\n"
      "content-disposition: form-data; name=\"tiff\"; filename=\"a \\\"b\\\".tif\"\r\n"
      "Content-Type: image/tiff\r\n\r\n" +
      binary + "\r\n--XyZ\r\nContent-Disposition: form-data; name=\"empty\"\r\n\r\n\r\n--XyZ--\r\n";
  auto parts = ParseMultipart("XyZ", body);
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0].name, "sidecar");
  EXPECT_EQ((*parts)[0].filename, "");
  EXPECT_EQ((*parts)[0].content, "{\"scan_id\":\"s1\"}");
  EXPECT_EQ((*parts)[1].name, "tiff");
  EXPECT_EQ((*parts)[1].filename, "a \"b\".tif");
  EXPECT_EQ((*parts)[1].content_type, "image/tiff");
  EXPECT_EQ((*parts)[1].content, binary);
  EXPECT_EQ((*parts)[2].content, "");
}

TEST(Multipart, BrokenBodiesNameWhatIsWrong) {
  auto message = [](const std::string& boundary, const std::string& body) {
    auto r = ParseMultipart(boundary, body);
    return r.ok() ? std::string("ok") : r.status().message();
  };
  EXPECT_NE(message("", "x").find("no usable boundary"), std::string::npos);
  EXPECT_NE(message("b", "no delimiter here").find("no part starts with the boundary 'b'"),
            std::string::npos);
  EXPECT_NE(message("b", "--b\r\nContent-Disposition: form-data; name=\"a\"")
                .find("no end of "
                      "headers"),
            std::string::npos);
  EXPECT_NE(message("b", "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--")
                .find("part 1 has no Content-Disposition name"),
            std::string::npos);
  EXPECT_NE(message("b", "--b\r\nContent-Disposition: form-data; name=\"scan\"\r\n\r\ncut short")
                .find("part 'scan' is not closed by the boundary"),
            std::string::npos);
}

}  // namespace
}  // namespace clearsight::service
