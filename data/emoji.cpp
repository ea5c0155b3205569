#include "data/emoji.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/file.h"
#include "base/text.h"
#include "data/image.h"
#include "data/metadata.h"
#include "data/tarball.h"

namespace i2v {

namespace fs = std::filesystem;
using nlohmann::json;
using ordered_json = nlohmann::ordered_json;  // the facts in the order they are written

const std::vector<std::string>& emoji_vendors() {
  static const std::vector<std::string> vendors = {"twitter", "google", "apple", "facebook"};
  return vendors;
}

namespace {

// The files of one vendor's package, by path inside the package ("emoji.json", "img/...").
struct Package {
  std::string source;  // what was read, for messages
  std::function<std::optional<std::string>(const std::string& relative)> read;
};

Package open_package(const std::string& folder, const std::string& vendor) {
  const std::string name = "emoji-datasource-" + vendor;
  std::error_code error;
  for (const fs::path& root : {fs::path(folder) / name / "package", fs::path(folder) / name}) {
    if (!fs::is_regular_file(root / "emoji.json", error)) continue;
    return {root.string(), [root](const std::string& relative) -> std::optional<std::string> {
              std::error_code e;
              if (!fs::is_regular_file(root / relative, e)) return std::nullopt;
              return read_file((root / relative).string());
            }};
  }
  std::vector<std::string> tarballs;
  if (fs::is_directory(folder, error))
    for (const auto& entry : fs::directory_iterator(folder)) {
      const std::string file = entry.path().filename().string();
      if (file.rfind(name + "-", 0) == 0 && entry.path().extension() == ".tgz" &&
          std::isdigit(static_cast<unsigned char>(file[name.size() + 1])))
        tarballs.push_back(entry.path().string());
    }
  I2V_CHECK(!tarballs.empty(),
            "no {} package in {} (looked for {}-*.tgz and {}/emoji.json); fetch it with: scripts/fetch_emoji.sh {} {}",
            name, folder, name, name, folder, vendor);
  const std::string tarball = *std::max_element(tarballs.begin(), tarballs.end(), natural_less);
  const std::string images = "package/img/" + vendor + "/64/";
  auto files = std::make_shared<std::map<std::string, std::string>>(read_tarball(tarball, [&](const std::string& entry) {
    return entry == "package/emoji.json" || entry == "package/package.json" || entry.rfind(images, 0) == 0;
  }));
  return {tarball, [files](const std::string& relative) -> std::optional<std::string> {
            const auto it = files->find("package/" + relative);
            if (it == files->end()) return std::nullopt;
            return it->second;
          }};
}

json parse_package_json(const Package& package, const std::string& relative) {
  const std::optional<std::string> text = package.read(relative);
  I2V_CHECK(text.has_value(), "{} has no {}", package.source, relative);
  try {
    return json::parse(*text);
  } catch (const json::exception& e) {
    I2V_THROW("{}/{}: {}", package.source, relative, e.what());
  }
}

// "Smileys & Emotion" -> "smileys_and_emotion".
std::string tag_of_phrase(const std::string& phrase) {
  std::string tag;
  for (char c : to_lower(phrase)) {
    if (c == '&') tag += "and";
    else if (c == ' ') tag += '_';
    else tag += c;
  }
  return tag;
}

// Words of short names and names that say what is drawn: split at spaces, '_' and '-',
// lowercased, without one-letter words and grammar words.
void add_words(const std::string& text, std::set<std::string>& words) {
  static const std::set<std::string> grammar = {"an", "and", "as", "at", "by", "for", "from", "in",
                                                "of", "on", "or", "the", "to", "with"};
  std::string word;
  for (size_t i = 0; i <= text.size(); ++i) {
    const char c = i < text.size() ? text[i] : ' ';
    if (c == ' ' || c == '_' || c == '-' || c == ':' || c == ',') {
      if (word.size() >= 2 && grammar.count(word) == 0) words.insert(word);
      word.clear();
    } else {
      word += char(std::tolower(static_cast<unsigned char>(c)));
    }
  }
}

const char* skin_tone_tag(const std::string& modifier) {
  if (modifier == "1F3FB") return "light_skin_tone";
  if (modifier == "1F3FC") return "medium-light_skin_tone";
  if (modifier == "1F3FD") return "medium_skin_tone";
  if (modifier == "1F3FE") return "medium-dark_skin_tone";
  if (modifier == "1F3FF") return "dark_skin_tone";
  return nullptr;
}

// The emoji of emoji.json in sort order, each followed by its skin-tone variations (sorted):
// (entry, variation key or "").
std::vector<std::pair<const json*, std::string>> emoji_in_order(const json& emoji) {
  std::vector<const json*> entries;
  for (const json& entry : emoji) entries.push_back(&entry);
  std::stable_sort(entries.begin(), entries.end(), [](const json* a, const json* b) {
    return a->value("sort_order", 0) < b->value("sort_order", 0);
  });
  std::vector<std::pair<const json*, std::string>> order;
  for (const json* entry : entries) {
    order.push_back({entry, ""});
    if (const auto variations = entry->find("skin_variations"); variations != entry->end() && variations->is_object())
      for (const auto& [key, ignored] : variations->items()) order.push_back({entry, key});
  }
  return order;
}

}  // namespace

EmojiSummary convert_emoji(const EmojiOptions& options) {
  I2V_CHECK(!options.output.empty(), "from-emoji needs an output folder");
  std::vector<std::string> vendors;
  for (const std::string& vendor : emoji_vendors())
    if (std::find(options.vendors.begin(), options.vendors.end(), vendor) != options.vendors.end()) vendors.push_back(vendor);
  for (const std::string& vendor : options.vendors)
    I2V_CHECK(std::find(emoji_vendors().begin(), emoji_vendors().end(), vendor) != emoji_vendors().end(),
              "unknown emoji vendor '{}' (twitter, google, apple, facebook)", vendor);
  I2V_CHECK(!vendors.empty(), "from-emoji needs at least one vendor");
  // Open every package first: a missing one is reported before anything is written.
  std::vector<Package> packages;
  for (const std::string& vendor : vendors) packages.push_back(open_package(options.packages, vendor));

  const PostForm form = options.tag_strings ? PostForm::tag_strings : PostForm::tags;
  EmojiSummary summary;
  // posts[i]'s other fields are more[i]: its picture's size and the facts for matching across vendors.
  std::vector<Post> posts;
  std::vector<ordered_json> more;
  fs::create_directories(options.output);
  for (size_t v = 0; v < vendors.size(); ++v) {
    const std::string& vendor = vendors[v];
    const Package& package = packages[v];
    const json emoji = parse_package_json(package, "emoji.json");
    I2V_CHECK(emoji.is_array() && !emoji.empty(), "{}: emoji.json is not a list of emoji", package.source);
    const std::string version = parse_package_json(package, "package.json").value("version", "?");
    const int64_t vendor_number =
        int64_t(std::find(emoji_vendors().begin(), emoji_vendors().end(), vendor) - emoji_vendors().begin()) + 1;
    EmojiVendorSummary vendor_summary{vendor, package.source, 0, 0};
    const std::string has_image = "has_img_" + vendor;
    const auto order = emoji_in_order(emoji);
    I2V_CHECK(order.size() < 10000, "{}: {} emoji do not fit the id scheme (vendor * 10000 + position)",
              package.source, order.size());
    for (size_t position = 0; position < order.size(); ++position) {
      const json& base = *order[position].first;
      const std::string& modifier = order[position].second;
      if (!modifier.empty() && !options.skin_tones) continue;
      const json& drawn = modifier.empty() ? base : base.at("skin_variations").at(modifier);
      const std::optional<std::string> png =
          drawn.value(has_image, false) ? package.read("img/" + vendor + "/64/" + drawn.value("image", "")) : std::nullopt;
      if (!png) {
        ++vendor_summary.missing;
        continue;
      }
      Post post;
      post.id = vendor_number * 10000 + int64_t(position) + 1;
      post.rating = form == PostForm::tag_strings ? 'g' : 's';
      post.file_ext = "png";
      const ImageHeader header =
          read_image_header(reinterpret_cast<const uint8_t*>(png->data()), png->size(), drawn.value("image", ""));
      std::set<std::string> general = {tag_of_phrase(base.value("category", "")),
                                       tag_of_phrase(base.value("subcategory", ""))};
      for (const json& short_name : base.value("short_names", json::array()))
        if (short_name.is_string()) add_words(short_name.get<std::string>(), general);
      add_words(base.value("name", ""), general);
      if (!modifier.empty()) {
        general.insert("skin_tone");
        for (size_t start = 0; start < modifier.size(); start += 6)
          if (const char* tag = skin_tone_tag(modifier.substr(start, 5))) general.insert(tag);
      }
      general.erase("");
      for (const std::string& tag : general) post.tags.push_back({tag, TagCategory::general});
      post.tags.push_back({base.value("short_name", ""), TagCategory::character});
      post.tags.push_back({vendor, TagCategory::copyright});
      const ordered_json emoji = {{"vendor", vendor},
                                  {"unified", drawn.value("unified", "")},
                                  {"base_unified", base.value("unified", "")},
                                  {"short_name", base.value("short_name", "")},
                                  {"name", base.value("name", "")},
                                  {"skin_tone", modifier},
                                  {"source", fmt::format("emoji-datasource-{}@{}", vendor, version)}};
      const std::string bucket = fmt::format("{:04d}", post.id % 1000);
      const fs::path directory = fs::path(options.output) / "original" / bucket;
      fs::create_directories(directory);
      // Plain writes: thousands of fsyncs would take minutes. The metadata, written last and
      // atomically, is what makes the dump complete. An earlier dump's entry is removed first, so
      // that the write never goes through a link (nor into a hard-linked copy).
      const fs::path file = directory / fmt::format("{}.png", post.id);
      fs::remove(file);
      {
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(png->data(), std::streamsize(png->size()));
        I2V_CHECK(out.good(), "cannot write {}", file.string());
      }
      if (options.class_folders) {
        const fs::path link = fs::path(options.output) / "by_vendor" / vendor / file.filename();
        fs::create_directories(link.parent_path());
        fs::remove(link);
        std::error_code link_error;
        fs::create_hard_link(file, link, link_error);
        if (link_error) fs::copy_file(file, link, fs::copy_options::overwrite_existing);
      }
      summary.image_bytes += int64_t(png->size());
      posts.push_back(std::move(post));
      more.push_back({{"image_width", header.width},
                      {"image_height", header.height},
                      {"file_size", int64_t(png->size())},
                      {"emoji", emoji}});
      ++vendor_summary.posts;
    }
    summary.posts += vendor_summary.posts;
    summary.vendors.push_back(vendor_summary);
  }

  const TagIds tag_ids = number_tags(posts);
  summary.tags = int64_t(tag_ids.size());
  std::string lines;
  for (size_t i = 0; i < posts.size(); ++i) lines += post_line(posts[i], form, tag_ids, more[i]) + "\n";
  summary.metadata = (fs::path(options.output) / "metadata.jsonl").string();
  write_file_atomically(summary.metadata, lines);
  return summary;
}

}  // namespace i2v
